"""Character n-gram counts over the whole message text, across word boundaries.

Rasa's CountVectorsFeaturizer builds character n-grams from the tokenizer's
words, so an n-gram never spans two jieba words: when jieba cuts a colloquial or
misspelt phrase differently from the training examples ("位用卡", "手机银行闪
退"), those n-grams are simply missing. Counting n-grams over the (normalised)
text itself keeps them whatever the segmentation; on the real customer questions
this lifts the intent classifier (docs/nlu-evaluation.md).

Sentence features only: the component feeds the intent classifier; the token-level
n-grams stay for the models that need a sequence. The vocabulary is stored as JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import CountVectorizer

from bot.nlu.sentence_featurizer import SentenceFeatures
from bot.nlu.stored import read_json, write_json

logger = logging.getLogger(__name__)

VOCABULARY_FILE = "vocabulary.json"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class TextCharNgramFeaturizer(SentenceFeatures, SparseFeaturizer, GraphComponent):
    """Counts of the text's character n-grams (min_ngram..max_ngram) as one sparse sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "min_ngram": 1, "max_ngram": 3, "min_count": 1}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        low, high = config.get("min_ngram"), config.get("max_ngram")
        if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high):
            raise ValueError("TextCharNgramFeaturizer: need 1 <= min_ngram <= max_ngram (integers)")
        if not isinstance(config.get("min_count"), int) or config["min_count"] < 1:
            raise ValueError("TextCharNgramFeaturizer: min_count must be a positive integer")

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: dict[str, int] | None = None,
    ) -> None:
        super().__init__(name, config)
        self._storage = model_storage
        self._resource = resource
        self._vectorizer: CountVectorizer | None = None
        if vocabulary:
            self._vectorizer = self._make_vectorizer(vocabulary)

    def _make_vectorizer(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        return CountVectorizer(
            analyzer="char_wb",
            ngram_range=(self._config["min_ngram"], self._config["max_ngram"]),
            lowercase=True,
            min_df=self._config["min_count"] if vocabulary is None else 1,
            vocabulary=vocabulary,
            dtype=float,
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextCharNgramFeaturizer:
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TextCharNgramFeaturizer:
        vocabulary = read_json(model_storage, resource, VOCABULARY_FILE, cls.__name__)
        return cls(config, execution_context.node_name, model_storage, resource, vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if m.get(TEXT)]
        if not texts:
            logger.warning("TextCharNgramFeaturizer: no texts to learn n-grams from")
            return self._resource
        vectorizer = self._make_vectorizer()
        vectorizer.fit(texts)
        vocabulary = {ngram: int(index) for ngram, index in vectorizer.vocabulary_.items()}
        self._vectorizer = self._make_vectorizer(vocabulary)
        write_json(self._storage, self._resource, VOCABULARY_FILE, vocabulary)
        return self._resource

    def _rows(self, messages: list[Message]) -> Iterable[scipy.sparse.coo_matrix] | None:
        if self._vectorizer is None:
            return None
        counts = self._vectorizer.transform([m.get(TEXT) for m in messages]).tocsr()
        return (scipy.sparse.coo_matrix(counts[row]) for row in range(counts.shape[0]))
