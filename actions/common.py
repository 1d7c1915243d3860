"""What every action shares: the knowledge-base session, the domain's wording, entities.

Actions never hold Chinese wording: ``Wording`` reads the domain's ``fmt_*``
responses (sent by the Rasa server with every action call) for the pieces that
lists and tables are built from.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from banktext.intents import DECIDED_BY_RULE, DID_NOT_FOLLOW, NOT_UNDERSTOOD, NOT_WHAT_I_ASKED, UNFAMILIAR_WORDS
from knowledge import queries as q
from knowledge.db import DatabaseMissing, session_scope
from knowledge.text import normalise

logger = logging.getLogger(__name__)

#: What a knowledge base that is missing, locked or down raises.
KB_ERRORS = (SQLAlchemyError, DatabaseMissing)
#: The bank's contact facts as generated for the Rasa server: the last resort when the
#: knowledge base cannot be read, so emergencies never depend on the database.
BANK_FACTS_FILE = Path(__file__).resolve().parents[1] / "bot" / "resources" / "bank_facts.json"
BANK_FACTS_TTL = 300.0
_bank_cache: dict[str, Any] = {"values": {}, "at": 0.0}


@contextmanager
def kb_session() -> Iterator[Session]:
    """One knowledge-base session for one action run."""
    with session_scope() as session:
        yield session


def bank_facts() -> dict[str, str]:
    """The bank's name and contact points: from the knowledge base (cached a few minutes),
    else the last values read, else the generated file. Never raises."""
    now = time.monotonic()
    if _bank_cache["values"] and now - _bank_cache["at"] < BANK_FACTS_TTL:
        return dict(_bank_cache["values"])
    try:
        with kb_session() as s:
            values = q.bank_values(q.get_bank(s))
        if values:
            _bank_cache.update(values=values, at=now)
            return dict(values)
    except KB_ERRORS as exc:
        logger.error("knowledge base unavailable for the bank's facts: %s", type(exc).__name__)
    if _bank_cache["values"]:
        return dict(_bank_cache["values"])
    try:
        facts = json.loads(BANK_FACTS_FILE.read_text(encoding="utf-8"))
        return {k: str(v) for k, v in facts.items() if not k.startswith("_")}
    except (OSError, ValueError):
        logger.error("no bank facts: %s is missing", BANK_FACTS_FILE)
        return {}


Run = Callable[..., Awaitable[list]]


def kb_guard(run: Run) -> Run:
    """Wrap an action's ``run``: when the knowledge base fails, the customer gets an apology
    with the hotline and a way to a person instead of an HTTP 500 and silence."""

    @functools.wraps(run)
    async def guarded(self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        try:
            return await run(self, dispatcher, tracker, domain)
        except KB_ERRORS as exc:
            # the type only: a statement's text could carry what the customer typed
            logger.error("knowledge base unavailable in %s: %s", self.name(), type(exc).__name__)
            dispatcher.utter_message(response="utter_service_unavailable", **bank_facts())
            return []

    return guarded


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


def unfamiliar_words(tracker: Tracker) -> bool:
    """Whether the NLU knew none of the words of the customer's latest message ("asdfgh", "嗀哫嚭")."""
    return bool((tracker.latest_message or {}).get(UNFAMILIAR_WORDS))


def explain_again(dispatcher: CollectingDispatcher) -> None:
    """The answer to a customer who did not follow the bot: an apology, and a person to explain."""
    dispatcher.utter_message(response="utter_explain_again", hotline=bank_facts().get("hotline", ""))


def did_not_follow(tracker: Tracker) -> bool:
    """Whether the customer's latest message says they did not follow the bot ("什么意思", "没看懂")."""
    return (tracker.latest_message or {}).get(DECIDED_BY_RULE) == DID_NOT_FOLLOW


def not_what_i_asked(tracker: Tracker) -> bool:
    """Whether the customer's latest message says the bot misread their question ("我不是问这个", "答非所问")."""
    return (tracker.latest_message or {}).get(DECIDED_BY_RULE) == NOT_WHAT_I_ASKED


def no_free_text_answer(tracker: Tracker, dispatcher: CollectingDispatcher, invalid_response: str) -> bool:
    """Whether the customer's reply to a free-text question (a booking's business, a complaint's
    story) is no answer: the customer saying they did not follow the question ("没看懂": an apology
    and a person offered), or words the NLU never saw ("asdfgh": ``invalid_response``). Says which;
    the form then asks again."""
    if did_not_follow(tracker):
        explain_again(dispatcher)
        return True
    if unfamiliar_words(tracker):
        dispatcher.utter_message(response=invalid_response)
        return True
    return False


def not_understood(event: dict[str, Any]) -> bool:
    """Whether a customer's message (a ``user`` event) was not understood: the bot asked to rephrase."""
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name") == NOT_UNDERSTOOD


def conversation_id(tracker: Tracker) -> str:
    return tracker.sender_id or "unknown"


def customer_text(tracker: Tracker) -> str:
    """What the customer typed in the latest message; empty for a button's payload."""
    text = tracker.latest_message.get("text") or ""
    return "" if text.startswith("/") else text


_OPTION_PREFIX = re.compile(r"^\s*[A-Da-d1-9][.、．:：)）]\s*")


def _option_keys(title: str) -> list[str]:
    """A button title as a customer might type it: whole, without "A. ", each "/" alternative."""
    bare = _OPTION_PREFIX.sub("", title)
    keys = [normalise(bare)] + [normalise(part) for part in re.split(r"[/／]", bare) if len(part.strip()) >= 2]
    return [k for k in dict.fromkeys(keys) if k]


def button_typed(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The button whose title the customer typed instead of clicking it, if exactly one fits.

    "不能接受任何亏损" picks "A. 不能接受任何亏损", "装修" picks "消费/装修/买车"; a title
    inside a longer answer counts ("我是学生"), the longest fitting title wins.
    """
    key = normalise(text)
    if not key:
        return None
    best: tuple[int, dict[str, Any]] | None = None
    tied = False
    for button in buttons or []:
        for option in _option_keys(str(button.get("title", ""))):
            if option == key or option in key or (len(key) >= 2 and key in option):
                score = len(option) + (100 if option == key else 0)
                if best is None or score > best[0]:
                    best, tied = (score, button), False
                elif score == best[0] and button is not best[1]:
                    tied = True
    return None if best is None or tied else best[1]


def payload_value(button: dict[str, Any], entity: str) -> Any:
    """The value of ``entity`` in a button's payload (``/inform{"risk_answer": "A"}`` → "A")."""
    payload = str(button.get("payload", ""))
    start = payload.find("{")
    if start < 0:
        return None
    try:
        return json.loads(payload[start:]).get(entity)
    except ValueError:
        return None


def response_buttons(domain: dict[str, Any], response: str) -> list[dict[str, Any]]:
    """The buttons of a domain response (its first variant)."""
    variants = (domain or {}).get("responses", {}).get(response) or [{}]
    return list(variants[0].get("buttons", []) or [])


async def write_with_retry(write: Callable[[Session], Any], attempts: int = 3, pause: float = 0.5) -> Any:
    """Run ``write`` in its own transaction, retrying a locked or briefly unavailable database.

    Returns what ``write`` returned; raises the last error when every attempt failed, so
    the caller can tell the customer that nothing was stored.
    """
    for attempt in range(1, attempts + 1):
        try:
            with kb_session() as s:
                return write(s)
        except KB_ERRORS as exc:
            logger.warning("write failed (attempt %d of %d): %s", attempt, attempts, type(exc).__name__)
            if attempt == attempts:
                raise
            await asyncio.sleep(pause * attempt)
    return None  # pragma: no cover - the loop returns or raises


def message_before(tracker: Tracker) -> dict[str, Any] | None:
    """The customer's message before the latest one (its ``user`` event), if there was one."""
    users = (e for e in reversed(tracker.events) if e.get("event") == "user")
    next(users, None)  # the latest message itself
    return next(users, None)


def intent_before(tracker: Tracker) -> str | None:
    """The intent the NLU read in the customer's message before the latest one."""
    before = message_before(tracker) or {}
    return ((before.get("parse_data") or {}).get("intent") or {}).get("name")


def previous_value(tracker: Tracker, slot: str) -> Any:
    """The value ``slot`` had before this message (the form fills it again from the message)."""
    value = None
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in events[:last_user]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def form_hit() -> dict:
    """A usable answer: the count of misses starts again."""
    return {"form_misses": 0}


#: The count of misses as the message arrived, kept beside the slots while a form's validation runs
#: (:class:`GuardedFormValidation`): a message is one miss however many of its slots were unusable.
_MISSES_BEFORE = "_form_misses_before_this_message"


def form_missed(tracker: Tracker, dispatcher: CollectingDispatcher) -> dict:
    """Count a message the form could not use; from the second in a row, offer a person. One
    message counts once, however many of its parts failed ("周六上午去北京的网点": no hour, and
    four branches to choose from), and the person is offered once."""
    before = tracker.slots.get(_MISSES_BEFORE, tracker.get_slot("form_misses"))
    misses = int(before or 0) + 1
    if misses >= 2 and tracker.get_slot("form_misses") != misses:
        dispatcher.utter_message(response="utter_form_offer_human")
    return {"form_misses": misses}


class GuardedFormValidation(FormValidationAction, ABC):
    """A form's validation action whose knowledge-base failures become an apology, not a 500."""

    @abstractmethod
    def name(self) -> str:
        """The validation action's name in the domain."""

    #: The intent that opens the form. Said again inside it, the form's rules run the form itself.
    opening_intent: str | None = None

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        tracker.slots.setdefault(_MISSES_BEFORE, tracker.get_slot("form_misses"))
        events = await super().run(dispatcher, tracker, domain)
        requested = tracker.get_slot("requested_slot")
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if (
            requested
            and intent == self.opening_intent
            and not any(e.get("event") == "slot" and e.get("name") != "requested_slot" for e in events)
        ):
            # The opening intent again, answering nothing the form asked ("稳一点的" asked which kind
            # of customer): a miss, and the question again. Without a slot set, Rasa rejects the form
            # (which lets the rules of other intents take the turn), and for this intent the only rule
            # is the form: the turn would end in the fallback.
            if f"utter_invalid_{requested}" in (domain.get("responses") or {}):
                dispatcher.utter_message(response=f"utter_invalid_{requested}")
            events += [SlotSet(slot, value) for slot, value in form_missed(tracker, dispatcher).items()]
        return events
