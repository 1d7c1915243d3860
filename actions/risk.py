"""The risk-disclosure gate and the suitability check.

Before details, application steps, a comparison or a recommendation of a product
that needs a disclosure (R3 and above; every fund, wealth and insurance product),
the disclosure in force is shown and the customer must acknowledge it. Until then
the question waits in ``pending_aspect``; ``actions.disclosure`` answers it once
acknowledged and writes the audit record.
"""

from __future__ import annotations

from collections.abc import Sequence

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import Wording
from knowledge import queries as q
from knowledge.queries import ProductView

#: Asking about the risk itself is never gated: that answer is part of the disclosure.
UNGATED_ASPECTS = frozenset({"risk"})


def acknowledged(tracker: Tracker) -> list[str]:
    return list(tracker.get_slot("acknowledged_products") or [])


def disclosure_gate(
    s: Session,
    products: ProductView | Sequence[ProductView],
    aspect: str,
    tracker: Tracker,
    d: CollectingDispatcher,
) -> list | None:
    """Show the disclosures still owed for ``products``; None when nothing is owed."""
    products = [products] if isinstance(products, ProductView) else list(products)
    if aspect in UNGATED_ASPECTS:
        return None
    done = acknowledged(tracker)
    owed = [p for p in products if p.needs_disclosure and p.code not in done]
    if not owed:
        return None
    for p in owed:
        disclosure = q.disclosure_for(s, p.code)
        if disclosure is None:
            # no disclosure in force: no details either
            d.utter_message(response="utter_service_unavailable")
            return []
        d.utter_message(
            response="utter_risk_disclosure",
            name=p.name,
            title=disclosure.title,
            version=disclosure.version,
            disclosure_text=disclosure.text.strip(),
            risk_level=p.risk_level,
        )
    return [
        SlotSet("disclosure_pending", True),
        SlotSet("disclosure_product", ",".join(p.code for p in products)),
        SlotSet("pending_aspect", aspect),
    ]


def max_risk_for(tolerance: str) -> str:
    return f"R{tolerance[1]}"


def suitability_refusal(p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> bool:
    """Explain and return True when ``p`` is above the customer's assessed risk tolerance."""
    tolerance = tracker.get_slot("risk_tolerance")
    if not tolerance or not p.risk_level or q.suitability(p, tolerance).suitable:
        return False
    d.utter_message(
        response="utter_not_suitable",
        name=p.name,
        product_risk=p.risk_level,
        tolerance=w("fmt_tolerance_value", tolerance=tolerance, label=w(f"fmt_tolerance_{tolerance}")),
        max_risk=max_risk_for(tolerance),
    )
    return True
