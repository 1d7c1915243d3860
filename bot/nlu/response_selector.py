"""Rasa's ResponseSelector, made safe for messages with no text.

The stock component fails on a message with no tokens (an empty or
whitespace-only message): its TensorFlow graph expects at least one token. Such
a message has no FAQ answer to select, so it is passed over and the assistant's
fallback answers it.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class EmptySafeResponseSelector(ResponseSelector):
    """ResponseSelector that skips messages without text."""

    def process(self, messages: list[Message]) -> list[Message]:
        with_text = [m for m in messages if (m.get(TEXT) or "").strip()]
        if with_text:
            super().process(with_text)
        return messages
