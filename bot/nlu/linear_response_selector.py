"""FAQ answers (``faq/<topic>``) chosen by logistic regression over the intent classifier's features.

Rasa's ResponseSelector trains a transformer for 60 epochs on the FAQ questions: most
of a training run on two cores, and a few milliseconds of TensorFlow per message. A
linear model over the same sentence features (e5 vector, word and character n-grams)
picks the topic as well, trains in seconds and answers in well under a millisecond
(docs/nlu-evaluation.md). Its output has the shape of Rasa's, so the domain's
retrieval action ``utter_faq`` answers with the chosen topic's response.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.linear_classifier import LinearIntentClassifier


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearResponseSelector(LinearIntentClassifier):
    """Chooses the sub-intent (``faq/<topic>``) of one retrieval intent."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LinearIntentClassifier.get_default_config(), "retrieval_intent": "faq"}

    def _examples(self, training_data: TrainingData) -> tuple[list[Message], list[str]]:
        intent = self._config["retrieval_intent"]
        examples = [
            m
            for m in training_data.intent_examples
            if m.get(TEXT) and m.get(INTENT) == intent and m.get(INTENT_RESPONSE_KEY)
        ]
        return examples, [m.get(INTENT_RESPONSE_KEY) for m in examples]

    def process(self, messages: list[Message]) -> list[Message]:
        intent = self._config["retrieval_intent"]
        for message in messages:
            ranking = self._ranking(message)
            if not ranking:
                continue
            key, confidence = ranking[0]
            properties = message.get(RESPONSE_SELECTOR_PROPERTY_NAME, {}) or {}
            properties[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = [intent]
            properties[intent] = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    PREDICTED_CONFIDENCE_KEY: confidence,
                    INTENT_RESPONSE_KEY: key,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: f"utter_{key}",
                },
                RESPONSE_SELECTOR_RANKING_KEY: [
                    {PREDICTED_CONFIDENCE_KEY: p, INTENT_RESPONSE_KEY: label} for label, p in ranking
                ],
            }
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, properties, add_to_output=True)
        return messages
