"""What every action shares: the knowledge-base session, the domain's wording, entities.

Actions never hold Chinese wording: ``Wording`` reads the domain's ``fmt_*``
responses (sent by the Rasa server with every action call) for the pieces that
lists and tables are built from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from knowledge.db import session_scope

logger = logging.getLogger(__name__)


@contextmanager
def kb_session() -> Iterator[Session]:
    """One knowledge-base session for one action run."""
    with session_scope() as session:
        yield session


class Wording:
    """Building blocks of answers, taken from the domain's ``fmt_*`` responses."""

    def __init__(self, domain: dict[str, Any]):
        self._responses = (domain or {}).get("responses", {})

    def __call__(self, key: str, **values: Any) -> str:
        variants = self._responses.get(key)
        if not variants:
            logger.error("domain has no response %s", key)
            return ""
        return str(variants[0].get("text", "")).format(**values)

    def has(self, key: str) -> bool:
        return key in self._responses

    def bullets(self, items: Any) -> str:
        return "\n".join(self("fmt_bullet", text=item) for item in items if item)

    def join(self, items: Any) -> str:
        return self("fmt_joiner").join(str(i) for i in items if i)

    def term(self, months: float | None) -> str:
        if months is None:
            return self("fmt_none")
        if months == 0:
            return self("fmt_term_demand")
        if months >= 12 and float(months) % 12 == 0:
            return self("fmt_term_years", n=number(Decimal(str(months)) / 12))
        return self("fmt_term_months", n=number(months))


def number(value: Any) -> str:
    """A number for people: 200000 → '200,000', 1.50 → '1.5', 0.0500 → '0.05'."""
    if value is None:
        return ""
    d = Decimal(str(value))
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d.normalize():f}".rstrip("0").rstrip(".")


def money(value: Any) -> str:
    """Two decimals, thousands separated: 4241.9712 → '4,241.97'."""
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):,}"


def latest_entities(tracker: Tracker, name: str) -> list[Any]:
    """Values of entity ``name`` in the latest message, in order, without repeats."""
    seen: list[Any] = []
    for entity in tracker.latest_message.get("entities", []) or []:
        if entity.get("entity") == name and entity.get("value") not in seen:
            seen.append(entity.get("value"))
    return seen


def latest_number(tracker: Tracker, name: str) -> float | None:
    """The numeric value of entity ``name`` in the latest message, if the NLU read one."""
    for value in latest_entities(tracker, name):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value).replace(",", ""))
        except ValueError:
            continue
    return None


def as_number(value: Any) -> float | None:
    """A slot value as a number, or None when it is text that is not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return None


def conversation_id(tracker: Tracker) -> str:
    return tracker.sender_id or "unknown"
