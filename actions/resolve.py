"""Which product or category the customer means, from this message or the conversation."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from actions.common import latest_entities
from knowledge import queries as q
from knowledge.queries import CategoryView, ProductView

#: How far behind the best match another may be and still make the name ambiguous.
AMBIGUITY_MARGIN = 0.08
#: A product name found inside a longer message must cover at least this score.
MENTION_SCORE = 0.62


@dataclasses.dataclass
class Resolution:
    product: ProductView | None = None
    category: CategoryView | None = None
    candidates: list[ProductView] = dataclasses.field(default_factory=list)
    not_found: str | None = None  # what the customer named that the catalogue lacks


def button(intent: str, product_name: str) -> dict[str, str]:
    """A button that asks ``intent`` again about one product."""
    return {"title": product_name, "payload": payload(intent, product=product_name)}


def payload(intent: str, **entities: Any) -> str:
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}"


def category_buttons(s: Session, intent: str) -> list[dict[str, str]]:
    return [{"title": c.name, "payload": payload(intent, product_type=c.code)} for c in q.list_categories(s)]


def _pick(matches: list[q.ProductMatch]) -> Resolution:
    best = matches[0]
    close = [m for m in matches if best.score - m.score <= AMBIGUITY_MARGIN]
    if best.how == "exact" or len(close) == 1:
        return Resolution(product=best.product)
    return Resolution(candidates=[m.product for m in close[:5]])


def resolve(s: Session, tracker: Tracker) -> Resolution:
    """The product (or category) a question is about.

    In order: a product named in the message (entity, or a catalogue name found in
    the text); a product category named in the message; the product, then the
    category, discussed earlier in the conversation.
    """
    names = [str(n) for n in latest_entities(tracker, "product")]
    if names:
        matches = sorted((m for n in names for m in q.find_products(s, n)), key=lambda m: -m.score)
        if not matches:
            return Resolution(not_found=names[0])
        return _pick(matches)
    text = tracker.latest_message.get("text") or ""
    if text and not text.startswith("/"):
        mentioned = [m for m in q.find_products(s, text) if m.how != "fuzzy" and m.score >= MENTION_SCORE]
        if mentioned:
            return _pick(mentioned)
    for value in latest_entities(tracker, "product_type"):
        category = q.find_category(s, str(value))
        if category:
            return Resolution(category=category)
    code = tracker.get_slot("product_code")
    if code:
        product = q.get_product(s, code)
        if product:
            return Resolution(product=product)
    previous = tracker.get_slot("product_type")
    if previous:
        category = q.find_category(s, str(previous))
        if category:
            return Resolution(category=category)
    return Resolution()
