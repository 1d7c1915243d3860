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

from actions.common import Wording, bank_facts, not_understood
from banktext import to_simplified
from banktext.intents import DECIDED_BY_RULE
from knowledge import queries as q
from knowledge.queries import ProductView

#: Asking about the risk itself is never gated: that answer is part of the disclosure.
UNGATED_ASPECTS = frozenset({"risk"})
#: How customers ask for returns without risk (parsing vocabulary): such a request gets a
#: plain correction, because no investment product guarantees its return.
GUARANTEE_WORDS = (
    "稳赚不赔",
    "稳赚",
    "只赚不赔",
    "包赚",
    "保本保息",
    "保本保收益",
    "保证收益",
    "保收益",
    "保证回报",
    "零风险",
    "无风险高收益",
    "高收益无风险",
    "没有风险的理财",
    "不会亏的理财",
    "刚性兑付",
)


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
            d.utter_message(response="utter_service_unavailable", **bank_facts())
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


#: How customers say that they accept no loss at all (parsing vocabulary).
NO_LOSS_WORDS = (
    "不能接受任何亏损",
    "不接受任何亏损",
    "不能接受亏损",
    "不接受亏损",
    "不能有亏损",
    "不能有任何亏损",
    "不能亏",
    "不想亏",
    "不要亏",
    "不亏本",
    "别亏",
    "不愿意亏",
    "不能赔",
    "不想赔",
    "亏不起",
    "赔不起",
    "一分都不能少",
    "一分钱都不能少",
    "一分都不能亏",
    "一分钱都不能亏",
    "本金不能少",
    "本金不能损失",
    "本金一分",
    "只要保本",
    "必须保本",
)


def excludes_any_loss(text: str) -> bool:
    """Whether the customer says they accept no loss of principal at all."""
    text = to_simplified(text or "")
    return any(word in text for word in NO_LOSS_WORDS)


def correct_guarantee_request(tracker: Tracker, d: CollectingDispatcher) -> bool:
    """A customer who asks for guaranteed or risk-free returns is told plainly that none exist."""
    text = to_simplified(tracker.latest_message.get("text") or "")
    if not any(word in text for word in GUARANTEE_WORDS):
        return False
    d.utter_message(response="utter_no_guaranteed_returns")
    return True


#: The bot's request, after a reply it could not take as an answer, to answer the disclosure shown.
DISCLOSURE_ASKED_AGAIN = "utter_disclosure_reprompt"


def _asks_for_the_disclosure(event: dict) -> bool:
    """The disclosure shown (its slot set), or the request to answer it made again."""
    if event.get("event") == "slot":
        return event.get("name") == "disclosure_pending" and event.get("value") is True
    return event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") == DISCLOSURE_ASKED_AGAIN


def said_yes_plainly(tracker: Tracker) -> bool:
    """Whether the customer's yes is theirs, not the classifier's guess: the disclosure's button (a
    command reaches the bot only when the channel made it), or a yes a whole-message rule read
    ("好的", "知道了", "我已阅读并知晓风险"). "必须确认吗" or "嗯？" can be read as a yes; they are not one."""
    latest = tracker.latest_message or {}
    return (latest.get("text") or "").startswith("/") or latest.get(DECIDED_BY_RULE) == "affirm"


def disclosure_just_shown(tracker: Tracker) -> bool:
    """Whether the bot's turn right before the customer's latest message showed a risk disclosure.

    Only an answer to that turn acknowledges (or declines) it: a "好的" after the talk has
    moved on (a lost card, a password) answers something else. A message in between that the
    bot did not understand ("。", an unknown emoji) moved nothing on, and a request to answer the
    disclosure counts as showing it again.
    """
    events = tracker.events
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    for previous, latest in reversed(list(zip(users, users[1:], strict=False))):
        if any(_asks_for_the_disclosure(e) for e in events[previous:latest]):
            return True
        if not not_understood(events[previous]):
            return False
    return False


def max_risk_for(tolerance: str) -> str:
    return f"R{tolerance[1]}"


def _tolerance_values(tracker: Tracker, w: Wording) -> dict[str, str] | None:
    """The customer's assessed tolerance, worded for a response; None when not assessed."""
    tolerance = tracker.get_slot("risk_tolerance")
    if not tolerance:
        return None
    return {
        "tolerance": w("fmt_tolerance_value", tolerance=tolerance, label=w(f"fmt_tolerance_{tolerance}")),
        "max_risk": max_risk_for(tolerance),
    }


def above_tolerance_note(p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> bool:
    """Say that ``p`` is above the customer's assessed tolerance before any of its details."""
    values = _tolerance_values(tracker, w)
    if values is None or not p.risk_level or q.suitability(p, tracker.get_slot("risk_tolerance")).suitable:
        return False
    d.utter_message(response="utter_above_tolerance", name=p.name, product_risk=p.risk_level, **values)
    return True


def suitability_refusal(p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> bool:
    """Explain and return True when ``p`` is above the customer's assessed risk tolerance."""
    values = _tolerance_values(tracker, w)
    if values is None or not p.risk_level or q.suitability(p, tracker.get_slot("risk_tolerance")).suitable:
        return False
    d.utter_message(response="utter_not_suitable", name=p.name, product_risk=p.risk_level, **values)
    return True
