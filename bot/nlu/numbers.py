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

Number = int | float
_AMOUNT_NOISE = re.compile(
    r"(人民币|块钱|元钱|块|元|rmb|cny|左右|大概|大约|约|差不多|多块|来块|以上|以下|的样子)", re.I
)
_TERM = re.compile(r"^(?P<num>.+?)(?P<unit>个月|个多月|月|年|天|日|周|星期)(?P<half>半)?$")
_TERM_UNITS = {"个月": 1, "个多月": 1, "月": 1, "年": 12, "天": 1 / 30, "日": 1 / 30, "周": 7 / 30, "星期": 7 / 30}


def parse_number(text: str) -> float | None:
    """A number written in Arabic or Chinese numerals ("12", "1,000", "二十", "两万"), or None."""
    import cn2an

    text = text.replace(",", "").replace("，", "").strip()
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
    cleaned = cleaned.removesuffix("期")
    match = _TERM.match(cleaned)
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
    """Drop a product_type found inside a product name: "手机银行" the product, not also the category."""
    products = [(e.get("start"), e.get("end")) for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) == "product"]

    def inside(e: dict[str, Any]) -> bool:
        return any(s is not None and s <= e.get("start", -1) and e.get("end", -1) <= end for s, end in products)

    return [e for e in entities if not (e.get(ENTITY_ATTRIBUTE_TYPE) == "product_type" and inside(e))]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class NumberNormaliser(GraphComponent):
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
