"""jieba with the bank's dictionary, cutting a message the same way however often a model is loaded.

Rasa's ``JiebaTokenizer`` loads its user dictionary into jieba's one process-wide tokenizer each
time a model is created or loaded. jieba adds every word's frequency to its running total on each
load, so a second load shifts the probabilities of all words and the cuts change: after two loads
二类户能存多少钱 is cut 二类户/能存/多少钱 instead of 二类户/能存/多少/钱, and the classifier reads it
differently. A server that loads a new model, a test that trains then loads, and `make eval` (which
trains and loads in one process) would each read customers differently from the model as trained.

Here each dictionary (by content) gets its own ``jieba.Tokenizer``, built once per process and
shared by every model that uses the same dictionary; jieba's global tokenizer is not touched.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import FingerprintsItsSources

logger = logging.getLogger(__name__)

_TOKENIZERS: dict[str, Any] = {}
_LOCK = threading.Lock()


def tokenizer_for(directory: str | None) -> Any:
    """The jieba tokenizer with the user dictionaries in ``directory`` (all its files), built once
    per dictionary content; jieba's own dictionary alone when ``directory`` is None."""
    import jieba

    files = sorted(glob.glob(f"{directory}/*")) if directory else []
    contents = [Path(f).read_bytes() for f in files]
    key = hashlib.sha256(b"\0".join(contents)).hexdigest()
    with _LOCK:
        if key not in _TOKENIZERS:
            tokenizer = jieba.Tokenizer()
            for file in files:
                logger.info("Loading Jieba User Dictionary at %s", file)
                tokenizer.load_userdict(file)
            _TOKENIZERS[key] = tokenizer
        return _TOKENIZERS[key]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=True)
class BankJiebaTokenizer(FingerprintsItsSources, JiebaTokenizer):
    """Rasa's JiebaTokenizer (same configuration, same stored dictionary), with a tokenizer of its
    own per dictionary instead of jieba's global one."""

    @classmethod
    def files_read(cls, config: dict[str, Any]) -> list[str]:
        return [config.get("dictionary_path") or ""]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        jieba_tokenizer: Any = None,
    ) -> None:
        super().__init__(config, model_storage, resource)
        self._jieba = jieba_tokenizer if jieba_tokenizer is not None else tokenizer_for(None)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> BankJiebaTokenizer:
        return cls(config, model_storage, resource, tokenizer_for(config["dictionary_path"]))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> BankJiebaTokenizer:
        tokenizer = None
        if config["dictionary_path"] is not None:
            try:
                with model_storage.read_from(resource) as directory:
                    tokenizer = tokenizer_for(str(directory))
            except ValueError:
                logger.debug("%s: no stored dictionary in resource %s", cls.__name__, resource.name)
        return cls(config, model_storage, resource, tokenizer)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        tokens = [Token(word, start) for word, start, _ in self._jieba.tokenize(text)]
        return self._apply_token_pattern(tokens)
