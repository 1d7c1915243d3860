"""A sentence feature that says whether the customer refers to OUR bank (or, with another list, to
another institution).

The NLU contract: customers call the bank by its name or 你们 / 你们银行 / 贵行, and
questions about other banks and platforms are out of scope. Word and character
n-grams carry "你们" like any other token, so a topic word that the training data
mostly shows in out-of-scope questions ("冻结", "充话费") can outvote it. One
explicit feature, "this message speaks to the bank itself", gives the classifier
a signal it weighs on its own.

With ``gate_dense: true`` the component also repeats the dense sentence features
already on the message (the e5 vector) multiplied by that sign: zeros when the
bank is not addressed, the vector itself when it is. A linear classifier can then
learn what "addressed to the bank" means per topic (你们 + a product question is
consultation, 你们 + a joke is still chit-chat) instead of one shift for all
messages, which either pulled chit-chat into scope or, once chit-chat examples
said 你们 too, pushed real questions out (docs/nlu-evaluation.md).

The words come from ``bot/resources/bank_references.txt``, generated from the
knowledge seed (the bank's names and the ways customers address it); the text
reaches this component already Simplified (ChineseNormaliser).

A second instance with ``path: bot/resources/other_institutions.txt`` (other banks,
payment platforms, lenders; hand-written) says "this message names someone else":
the same how-to is faq about our app and out of scope about 建行's. ``gate_featurizers``
names the dense features it gates (e.g. only ``e5``, not the first instance's output).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from banktext.wordlists import read_word_list
from bot.nlu.normaliser import normalise
from bot.nlu.sentence_featurizer import SentenceFeaturizer

ROOT = Path(__file__).resolve().parents[2]


def _entries(path: str) -> list[tuple[str, list[str]]]:
    """The entries of a word list (``banktext.wordlists``), normalised as the messages are
    (bot.nlu.normaliser); a relative path is taken from the project root."""
    file = Path(path)
    if not file.is_absolute():
        file = ROOT / file
    if not file.is_file():
        raise FileNotFoundError(f"BankReferenceFeaturizer: {file} not found (run 'make nlu-export')")
    return read_word_list(file, normalise)


def read_references(path: str) -> list[str]:
    """The words of a list file (see ``_entries``)."""
    return [word for word, _ in _entries(path)]


def reference_pattern(words: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(set(words), key=len, reverse=True)
    if not ordered:
        raise ValueError("BankReferenceFeaturizer: no bank references given")
    return re.compile("|".join(re.escape(w) for w in ordered))


#: What follows a place name in a bank's name: 兰州银行, 大连农商银行, 曹县农商行, 广东农信, 某某村镇银行; never
#: 银行卡 ("在上海银行卡丢了" is a card lost in Shanghai).
_BANK_AFTER_PLACE = re.compile(r"(?:农村商业银行|农商银行|农商行|村镇银行|农村信用社|农信社|信用社|农信|银行)(?!卡)")


@dataclass(frozen=True)
class PlaceBanks:
    """Banks named after a place (兰州银行, 曹县农商行): other institutions, however many the list of
    names lacks. China has some 4,000 local banks and rural credit institutions; the list names the ones
    customers name most, this finds the rest by their place."""

    places: frozenset[str]
    longest: int

    @classmethod
    def read(cls, path: str) -> PlaceBanks:
        places = frozenset(word for word, _ in _entries(path))
        return cls(places, max(map(len, places), default=0))

    def found_in(self, text: str) -> bool:
        for match in _BANK_AFTER_PLACE.finditer(text):
            end = match.start()
            if any(text[end - n : end] in self.places for n in range(2, min(self.longest, end) + 1)):
                return True
        return False


@dataclass(frozen=True)
class WordList:
    """Finds a list's words in a message, except inside the longer words the list names for them; and,
    when given places, a bank named after one of them."""

    pattern: re.Pattern[str] | None
    not_inside: re.Pattern[str] | None = None
    place_banks: PlaceBanks | None = None

    @classmethod
    def read(cls, path: str, places_path: str | None = None) -> WordList:
        entries = _entries(path)
        inside = [w for _, longer in entries for w in longer]
        return cls(
            reference_pattern(word for word, _ in entries) if entries else None,
            reference_pattern(inside) if inside else None,
            PlaceBanks.read(places_path) if places_path else None,
        )

    def found_in(self, text: str) -> bool:
        if not text:
            return False
        if self.place_banks is not None and self.place_banks.found_in(text):
            return True
        if self.pattern is None:
            return False
        if self.not_inside is not None:
            text = self.not_inside.sub(lambda m: "\0" * len(m.group()), text)
        return bool(self.pattern.search(text))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class BankReferenceFeaturizer(SentenceFeaturizer):
    """Adds the sentence feature [sign] or, gated, [sign, sign × earlier dense sentence features].

    sign is 1.0 when the text names or addresses our bank, else 0.0.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            "path": "bot/resources/bank_references.txt",
            "gate_dense": False,
            "gate_featurizers": [],  # the dense featurizers whose output is gated; [] = all before this one
            "places_path": None,  # place names: a bank named after one (兰州银行) counts as listed
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not isinstance(config.get("path"), str) or not config["path"]:
            raise ValueError("BankReferenceFeaturizer: 'path' must name the references file")
        if not isinstance(config.get("gate_dense", False), bool):
            raise ValueError("BankReferenceFeaturizer: 'gate_dense' must be true or false")
        gated = config.get("gate_featurizers", [])
        if not isinstance(gated, list) or not all(isinstance(name, str) for name in gated):
            raise ValueError("BankReferenceFeaturizer: 'gate_featurizers' must be a list of featurizer aliases")

    @classmethod
    def files_read(cls, config: dict[str, Any]) -> list[str]:
        return [config.get("path") or cls.get_default_config()["path"], *filter(None, [config.get("places_path")])]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(config, name)
        self._words = WordList.read(config["path"], config.get("places_path"))
        if self._words.pattern is None:
            raise ValueError("BankReferenceFeaturizer: no bank references given")

    def refers_to_bank(self, text: str) -> bool:
        return self._words.found_in(text)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        return np.array([[1.0 if self.refers_to_bank(t) else 0.0] for t in texts], dtype=np.float32)

    def _message_vectors(self, messages: list[Message]) -> np.ndarray:
        signs = self._vectors([m.get(TEXT) for m in messages])
        if not self._config.get("gate_dense"):
            return signs
        rows = []
        for message, sign in zip(messages, signs, strict=True):
            _, dense = message.get_dense_features(TEXT, self._config.get("gate_featurizers") or None)
            if dense is None:
                raise ValueError(
                    "BankReferenceFeaturizer: gate_dense needs a dense featurizer before it in the pipeline"
                )
            rows.append(np.concatenate([sign, sign[0] * dense.features.reshape(-1)]))
        return np.array(rows, dtype=np.float32)
