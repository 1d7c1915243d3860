"""Base of the featurizers that add one sentence-level vector per message text.

Subclasses say how texts become vectors (``_vectors``); building the component,
featurizing training data and incoming messages is the same for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.components import FingerprintsItsSources


class SentenceFeatures(FingerprintsItsSources):
    """Featurizing training data and incoming messages the same way: one sentence-level row per text.

    Mixed into a Rasa featurizer (dense or sparse); ``_rows(messages)`` gives one row per message,
    or None when the component has nothing to add (trained on no text).
    """

    def _rows(self, messages: list[Message]) -> Iterable[Any] | None:
        raise NotImplementedError

    def _featurize(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT) is not None]
        rows = self._rows(todo) if todo else None
        if rows is None:
            return
        for message, row in zip(todo, rows, strict=True):
            self.add_features_to_message(None, row, TEXT, message)  # type: ignore[attr-defined]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages


class SentenceFeaturizer(SentenceFeatures, DenseFeaturizer, GraphComponent):
    """Adds ``_vectors(texts)[i]`` as the sentence feature of message i (no sequence features)."""

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceFeaturizer:
        return cls(config, execution_context.node_name)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        """One row per text."""
        raise NotImplementedError

    def _message_vectors(self, messages: list[Message]) -> np.ndarray:
        """One row per message; by default from the texts alone."""
        return self._vectors([m.get(TEXT) for m in messages])

    def _rows(self, messages: list[Message]) -> Iterable[np.ndarray]:
        return (vector.reshape(1, -1) for vector in self._message_vectors(messages))
