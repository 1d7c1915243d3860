"""Two guards after the intent classifier, for what a statistical guess gets wrong at the worst moment.

1. **Control messages** (``bot/resources/intent_rules.yml``): a whole message that is plainly an
   acknowledgement of a risk disclosure, a request for a person, or leaving ("算了", "不约了")
   gets that intent. These are short, and a wrong guess here costs most: a disclosure left
   unacknowledged, a customer who cannot reach a person or leave a form.
2. **Our own products**: a question that names the bank or one of its product brands
   (``bot/resources/own_brands.txt``, generated from the seed: "澜山沪深300指数增强基金怎么样"),
   or a product of our catalogue (a ``product`` entity from the generated lookup table:
   "黄金TD怎么交易"), and no other institution (``bot/resources/other_institutions.txt``:
   "工行的纸黄金" stays out), is the bank's business: ``out_of_scope`` gives way to the best
   in-scope intent. The component therefore runs after the entity extractors.

Both rules are written from the NLU contract, not fitted to evaluation questions; their effect
is measured in docs/nlu-evaluation.md.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa.engine.graph import GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from banktext import to_simplified
from bot.nlu.bank_reference import read_references
from bot.nlu.components import CreatedFromConfig

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
OUT_OF_SCOPE = "out_of_scope"
_NOISE = re.compile(r"[\s\u3000·•・,，.。!！?？:：;；、'\"“”‘’()（）\[\]【】~～…—\-]+")


def squeeze(text: str) -> str:
    """The message as the rules see it: Simplified, lower case, no spaces or punctuation."""
    return _NOISE.sub("", to_simplified(text or "")).lower()


@lru_cache(maxsize=4)
def load_rules(path: str) -> tuple[tuple[str, re.Pattern], ...]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return tuple(
        (rule["intent"], re.compile(pattern)) for rule in data.get("rules", []) for pattern in rule["patterns"]
    )


@lru_cache(maxsize=4)
def load_words(path: str) -> tuple[str, ...]:
    """The words of a one-per-line list (read as the bank-reference features read theirs), longest
    first; a missing file gives none."""
    words = read_references(path) if Path(path).is_file() else []
    return tuple(sorted(set(words), key=len, reverse=True))


def rule_intent(text: str, rules: tuple[tuple[str, re.Pattern], ...]) -> str | None:
    """The intent whose pattern matches the whole message, if any."""
    key = squeeze(text)
    if not key or len(key) > 40:
        return None
    return next((intent for intent, pattern in rules if pattern.fullmatch(key)), None)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentRules(CreatedFromConfig, GraphComponent):
    """Runs after the intent classifier and before the fallback; changes only what its rules say."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "rules_path": str(RESOURCES / "intent_rules.yml"),
            "brands_path": str(RESOURCES / "own_brands.txt"),
            "others_path": str(RESOURCES / "other_institutions.txt"),
        }

    def __init__(self, config: dict[str, Any]) -> None:
        config = {**self.get_default_config(), **config}
        self._rules = load_rules(config["rules_path"])
        self._brands = load_words(config["brands_path"])
        self._others = load_words(config["others_path"])

    def _decide(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        chosen = rule_intent(text, self._rules)
        if chosen is None and intent == OUT_OF_SCOPE and self._about_our_products(message):
            chosen = next((r[INTENT_NAME_KEY] for r in ranking if r[INTENT_NAME_KEY] != OUT_OF_SCOPE), None)
        if chosen is None or chosen == intent:
            return
        top = {INTENT_NAME_KEY: chosen, PREDICTED_CONFIDENCE_KEY: 1.0}
        rest = [r for r in ranking if r[INTENT_NAME_KEY] != chosen]
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [top, *rest], add_to_output=True)

    def _about_our_products(self, message: Message) -> bool:
        text = to_simplified(message.get(TEXT) or "")
        if any(other in text for other in self._others):
            return False
        names_ours = any(brand in text for brand in self._brands)
        return names_ours or any(e.get("entity") == "product" for e in message.get(ENTITIES) or [])

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._decide(message)
        return messages
