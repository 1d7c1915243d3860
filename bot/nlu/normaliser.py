"""Normalise Chinese input before tokenising: Traditional → Simplified, full width → half width,
written Cantonese → Mandarin wording.

Customers write in both scripts, and some in Cantonese (我嘅卡唔見咗); the training data is mostly
Simplified Mandarin. The conversion keeps the text's length, character for character, so entity
offsets in training examples and in predictions stay valid.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa.engine.graph import GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from banktext.cantonese import to_mandarin
from banktext.script import to_simplified
from bot.nlu.components import CreatedFromConfig, FingerprintsItsSources

#: Longest text the NLU looks at; the rest of a pasted essay adds nothing to the intent.
MAX_CHARS = 600


def _one_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    char = folded if len(folded) == 1 else char
    converted = to_simplified(char)
    return converted if len(converted) == 1 else char


def normalise(text: str) -> str:
    """Simplified, half-width Mandarin text of exactly the same length as ``text``."""
    if not text:
        return text
    whole = to_simplified(unicodedata.normalize("NFKC", text))
    if len(whole) != len(text):
        whole = "".join(_one_char(c) for c in text)
    return to_mandarin(whole)


def _follow_entity_values(message: Message, old: str, new: str) -> None:
    """A training example's entity whose value is its own words ([五萬](amount)) takes the normalised
    words too. Otherwise Rasa's synonym mapper learns 五万 → 五萬 from the difference, and the
    Simplified words a customer types come out as the Traditional value."""
    for entity in message.get(ENTITIES) or []:
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        if start is not None and end is not None and entity.get(ENTITY_ATTRIBUTE_VALUE) == old[start:end]:
            entity[ENTITY_ATTRIBUTE_VALUE] = new[start:end]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class ChineseNormaliser(FingerprintsItsSources, CreatedFromConfig, GraphComponent):
    """Runs first in the pipeline and rewrites the message text in place."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_chars": MAX_CHARS}

    def __init__(self, config: dict[str, Any]) -> None:
        self._max_chars = int(config.get("max_chars", MAX_CHARS))

    def _normalise(self, message: Message, clip: bool) -> None:
        text: str | None = message.get(TEXT)
        if not text:
            return
        new = normalise(text)
        if clip and len(new) > self._max_chars:
            new = new[: self._max_chars]
        if new != text:
            message.set(TEXT, new)
            _follow_entity_values(message, text, new)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalise(example, clip=False)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalise(message, clip=True)
        return messages
