"""A message read from words the training data never used is not understood.

The intent classifier always answers. Given characters it has never seen (a rare character, an
emoji no example uses, a keyboard mash), the sentence encoder still puts the message somewhere,
and there the linear model is sure: on 190 generated nonsense messages (docs/nlu-evaluation.md,
session 13) it read three rare-character strings in four and every unknown emoji as ``affirm``,
with confidence 0.5 to 0.9. After a risk disclosure that is a "yes" nobody said.

This component learns the words (jieba tokens, normalised and lower-cased) of the training
examples. A message that has words, none of them known, and no entity found by the catalogue's
tables and patterns, is marked not understood and the customer is asked to say it in words.
Two readings are left alone, because their answer shows what was taken and the customer can
correct it: a form answer (a name, a place the catalogue does not list) and out of scope (an
unknown town's name). So is a reading a written whole-message rule decided (转人公, voice
input's 转人工): the rule, not the training data, knows its words. Either way the parse says the
words were unfamiliar (``unfamiliar_words``), and a form does not take such a text as a free
answer (the business of a booking, a complaint's story). Words with a digit (an amount, a card's
last digits, a date) are not nonsense and are not checked.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from banktext.intents import DECIDED_BY_RULE, FORM_ANSWER, NOT_UNDERSTOOD, UNFAMILIAR_WORDS
from bot.nlu.components import FingerprintsItsSources
from bot.nlu.intent_rules import OUT_OF_SCOPE, decide
from bot.nlu.stored import read_json, write_json

WORDS_FILE = "words.json"
#: Readings whose answer repeats what was taken (the slot filled, the subject declined): not undone.
SHOWN_IN_THE_ANSWER = frozenset({FORM_ANSWER, OUT_OF_SCOPE})


def _says_something(char: str) -> bool:
    return char.isalpha() or unicodedata.category(char) == "So"


def words_to_check(message: Message) -> list[str]:
    """The message's words that carry letters or pictures and no digit, lower-cased."""
    words = [token.text.lower() for token in message.get(TOKENS_NAMES[TEXT]) or []]
    return [w for w in words if any(_says_something(c) for c in w) and not any(c.isdigit() for c in w)]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class UnfamiliarWords(FingerprintsItsSources, GraphComponent):
    """Runs after the entity extractors and the intent rules; changes only a message it cannot read."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def __init__(self, storage: ModelStorage, resource: Resource, known: frozenset[str] = frozenset()) -> None:
        self._storage = storage
        self._resource = resource
        self._known = known

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnfamiliarWords:
        return cls(model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnfamiliarWords:
        words = read_json(model_storage, resource, WORDS_FILE, cls.__name__)
        return cls(model_storage, resource, frozenset(words or ()))

    def train(self, training_data: TrainingData) -> Resource:
        known = sorted({w for m in training_data.intent_examples for w in words_to_check(m)})
        write_json(self._storage, self._resource, WORDS_FILE, known)
        self._known = frozenset(known)
        return self._resource

    def unfamiliar(self, message: Message) -> bool:
        """Words to read, none of them known, nothing from the catalogue; False before training."""
        if not self._known or message.get(ENTITIES):
            return False
        words = words_to_check(message)
        return bool(words) and not any(w in self._known for w in words)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if not self.unfamiliar(message):
                continue
            # said in the parse whatever the reading: a form does not take such a text as a free answer
            message.set(UNFAMILIAR_WORDS, True, add_to_output=True)
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            # a reading a written whole-message rule decided ("转人公") is understood by that rule
            if intent and intent not in SHOWN_IN_THE_ANSWER and not message.get(DECIDED_BY_RULE):
                decide(message, NOT_UNDERSTOOD)
        return messages
