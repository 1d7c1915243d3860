"""spaCy's Chinese tokenizer as a Rasa tokenizer, to measure it against jieba (`make eval`).

The project's pipeline cuts words with jieba and the bank's dictionary (config.yml). spaCy's
`zh` language offers three segmenters: `char` (one token per character), `jieba` (the same
jieba, through spaCy) and `pkuseg` (a CRF segmenter trained on news text, whose model must come
from a registry package: `scripts/pkuseg_model.sh` takes it from the `pkuseg` sdist). This
component lets `python -m bot.evaluation --config bot/eval_configs/spacy_<segmenter>.yml`
measure each of them with everything else equal; docs/nlu-evaluation.md has the figures.

`spacy.blank("zh")` loads nothing from the network. The bank's jieba dictionary
(`bot/resources/jieba`) is passed to pkuseg as its user dictionary, so the comparison with
jieba is fair: both know 云澜, 大额存单 and the catalogue's names.
"""

from __future__ import annotations

import glob
import tempfile
from pathlib import Path
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import CreatedFromConfig, FingerprintsItsSources

SEGMENTERS = ("char", "jieba", "pkuseg")


def _dictionary_words(path: str | None) -> list[str]:
    """The words of jieba user dictionaries (``word [freq] [tag]`` per line)."""
    words: list[str] = []
    for file in sorted(glob.glob(f"{path}/*")) if path else []:
        for line in Path(file).read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.append(line.split()[0])
    return words


def build_nlp(segmenter: str, pkuseg_model: str | None = None, dictionary_path: str | None = None):
    """A blank spaCy Chinese pipeline with the chosen segmenter, initialised offline."""
    import spacy

    if segmenter not in SEGMENTERS:
        raise ValueError(f"SpacyChineseTokenizer: segmenter must be one of {SEGMENTERS}")
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": segmenter}}})
    if segmenter == "pkuseg":
        if not pkuseg_model or not Path(pkuseg_model).is_dir():
            raise ValueError(
                f"SpacyChineseTokenizer: pkuseg needs a model directory (pkuseg_model: {pkuseg_model!r}); "
                "run scripts/pkuseg_model.sh"
            )
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as user_dict:
            user_dict.write("\n".join(_dictionary_words(dictionary_path)))
        nlp.tokenizer.initialize(pkuseg_model=pkuseg_model, pkuseg_user_dict=user_dict.name)
        Path(user_dict.name).unlink()
    elif segmenter == "jieba" and dictionary_path:
        from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer

        JiebaTokenizer._load_custom_dictionary(dictionary_path)  # as the project's JiebaTokenizer does
    return nlp


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class SpacyChineseTokenizer(FingerprintsItsSources, CreatedFromConfig, Tokenizer):
    """Words from spaCy's Chinese tokenizer (``segmenter``: char, jieba or pkuseg)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "segmenter": "char",
            "pkuseg_model": "var/pkuseg/default",
            "dictionary_path": "bot/resources/jieba",
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> list[str]:
        return ["zh"]

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._nlp = build_nlp(config["segmenter"], config.get("pkuseg_model"), config.get("dictionary_path"))

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        doc = self._nlp.make_doc(text)
        tokens = [Token(t.text, t.idx) for t in doc if not t.is_space]
        return self._apply_token_pattern(tokens)
