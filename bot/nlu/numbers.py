"""Turn amount and term entities into numbers: 二十万 → 200000, 三年 → 36 (months).

Runs after the extractors, so forms and calculators receive numbers, never
Chinese numerals. A value that cannot be read as a number is left as written
and the action asks the customer to re-enter it.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, ENTITY_ATTRIBUTE_VALUE, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import FingerprintsItsSources

Number = int | float
_AMOUNT_NOISE = re.compile(
    r"(人民币|块钱|元钱|块|元|rmb|cny|左右|大概|大约|约|差不多|多块|来块|以上|以下|的样子)", re.I
)
_TERM = re.compile(r"^(?P<num>.+?)(?P<unit>个月|个多月|月|年|天|日|周|星期)(?P<half>半)?$")
_TERM_UNITS = {"个月": 1, "个多月": 1, "月": 1, "年": 12, "天": 1 / 30, "日": 1 / 30, "周": 7 / 30, "星期": 7 / 30}


#: "两三万", "三五年", "七八千": two neighbouring numerals name a range; its lower bound is taken
#: (what the customer surely has, the time they surely do not need the money).
_CN_RANGE = re.compile(r"(一两|两三|二三|三四|三五|四五|五六|六七|七八|八九)")
_ARABIC_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|~|～|—|–|到|至)\s*\d+(?:\.\d+)?")
#: "十来万", "三十多万", "一万余": about that much
_ABOUT = re.compile(r"(?<=[十百千万])[来多余]|(?<=\d)[多余]")
#: 20w, 8k, 1.5W: the letters customers type for 万 and 千
_LETTER_UNITS = {"w": "万", "k": "千"}


def _lower_bound(text: str) -> str:
    text = _CN_RANGE.sub(lambda m: m.group(1)[0], text)
    text = _ARABIC_RANGE.sub(lambda m: m.group(1), text)
    return _ABOUT.sub("", text)


def parse_number(text: str) -> float | None:
    """A number written in Arabic or Chinese numerals ("12", "1,000", "二十", "两万", "20w", "8k"), or None.

    A range ("两三万", "2-3万") gives its lower bound; "十来万" is about ten thousand.
    """
    import cn2an

    text = text.replace(",", "").replace("，", "").strip()
    text = re.sub(r"(?<=\d)\s*([wWkK])", lambda m: _LETTER_UNITS[m.group(1).lower()], text)
    text = _lower_bound(text)
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    text = text.replace("两", "二").replace("俩", "二").replace("仨", "三")
    for mode in ("smart", "normal"):
        try:
            return float(cn2an.cn2an(text, mode))
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    return None


def _tidy(value: float) -> Number:
    return int(value) if float(value).is_integer() else round(value, 2)


def parse_amount(text: str) -> Number | None:
    """Yuan in ``text`` (二十万, 5万元, 1.5万, 三千块, 100,000); None when unreadable."""
    cleaned = _AMOUNT_NOISE.sub("", str(text)).strip()
    value = parse_number(cleaned)
    return _tidy(value) if value is not None else None


def parse_term_months(text: str) -> Number | None:
    """Months in ``text`` (三年 → 36, 半年 → 6, 一年半 → 18, 18个月 → 18, 90天 → 3)."""
    cleaned = _AMOUNT_NOISE.sub("", str(text)).replace(" ", "")
    if cleaned in ("半年", "半年期"):
        return 6
    cleaned = re.sub(r"(?<=[年月天])[多余]$", "", cleaned.removesuffix("期"))  # 一年多: a year
    match = _TERM.match(_lower_bound(cleaned))
    if not match:
        return None
    value = parse_number(match.group("num"))
    if value is None:
        return None
    months = value * _TERM_UNITS[match.group("unit")]
    if match.group("half"):
        months += 6 if match.group("unit") == "年" else 0.5
    return _tidy(round(months, 1))


_PARSERS = {"amount": parse_amount, "term": parse_term_months}


def _prefer_products(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop what is found inside a product name: "手机银行" the product, not also the category;
    "七天通知存款" a product, not a term of seven days."""
    products = [(e.get("start"), e.get("end")) for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) == "product"]

    def inside(e: dict[str, Any]) -> bool:
        return any(s is not None and s <= e.get("start", -1) and e.get("end", -1) <= end for s, end in products)

    return [
        e for e in entities if not (e.get(ENTITY_ATTRIBUTE_TYPE) in ("product_type", "amount", "term") and inside(e))
    ]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class NumberNormaliser(FingerprintsItsSources, GraphComponent):
    """Replaces the value of ``amount`` and ``term`` entities by a number.

    Also drops a ``product_type`` found inside a ``product`` mention, so that one
    span is one entity.
    """

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NumberNormaliser:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            message.set(ENTITIES, _prefer_products(message.get(ENTITIES, [])), add_to_output=True)
            text = message.get(TEXT) or ""
            for entity in message.get(ENTITIES, []):
                if entity.get(ENTITY_ATTRIBUTE_TYPE) == "product" and entity.get("end"):
                    # a product is named by what the customer wrote; category synonyms must not rename it
                    entity[ENTITY_ATTRIBUTE_VALUE] = text[entity["start"] : entity["end"]]
                parser = _PARSERS.get(entity.get(ENTITY_ATTRIBUTE_TYPE))
                if parser and isinstance(entity.get(ENTITY_ATTRIBUTE_VALUE), str):
                    value = parser(entity[ENTITY_ATTRIBUTE_VALUE])
                    if value is not None:
                        entity[ENTITY_ATTRIBUTE_VALUE] = value
                        entity.setdefault("processors", []).append(self.__class__.__name__)
        return messages
