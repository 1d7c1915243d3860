"""Reminders the customer opts in to: before a booked appointment, before a product matures.

The offer comes after an appointment is confirmed (:func:`appointment_offer`) and after a
maturity question that names a date (:func:`maturity_offer`); the customer can also say it in one
message ("我的三年定期2027年3月1日到期，到时候提醒我"). The reminder is a row of the knowledge
base (:mod:`knowledge.reminders`); a scheduler of the staff desk claims it when its time comes and
asks the Rasa server to run :class:`ActionDeliverReminders` in the conversation, which says it on
the customer's own channel. "取消提醒" cancels every reminder still waiting.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import handling
from actions.common import KB_ERRORS, Wording, conversation_id, customer_text, kb_guard, kb_session, write_with_retry
from actions.datetime_zh import parse_day
from actions.handling import format_when
from banktext import redact, to_simplified
from knowledge import models as m
from knowledge import reminders as r

logger = logging.getLogger(__name__)

OFFER_SLOT = "reminder_offer"
#: Words around the product in "我的三年定期2027年3月1日到期，到时候提醒我" (parsing vocabulary).
_NOT_PRODUCT = re.compile(
    r"\d{2,4}\s*[-/年.]\s*|\d{1,2}\s*[-/月.]\s*\d{1,2}\s*[日号]?|[0-9零〇一二两三四五六七八九十]{1,3}[月][0-9零〇一二两三四五六七八九十]{1,3}[日号]"
    r"|明年|今年|后年|下个?月|这个?月|到期(的|了|日|时)?|(到时候?|届时|记得|请|麻烦|帮我|给我)*提醒(我|一下)*(吧|哦|啊|呀|谢谢)*"
    r"|^(我的|我有(一笔|一个|个)?|我那(笔|个)|那(笔|个))|[是在于就]$|[\s,，。.!！?？、~～]+"
)


#: A date written out ("3月1日", "2027-03-01", "3/1"), not a rate like "3.5" (parsing vocabulary).
_WRITES_A_DATE = re.compile(r"[月号號日]|\d{4}\s*[-/.年]|\d{1,2}/\d{1,2}")


def day_named(text: str) -> dt.date | None:
    """The day a message names with a written date, or None ("利率3.5的定期" names none)."""
    if not text or not _WRITES_A_DATE.search(to_simplified(text)):
        return None
    return parse_day(text, handling.now_local())


def _date_label(w: Wording, day: dt.date) -> str:
    return w("fmt_day", month=day.month, day=day.day, weekday=w(f"fmt_weekday_{day.weekday()}"))


def _labels(w: Wording, row: m.Reminder) -> dict[str, str]:
    """What a reminder's responses say: its time, its event, its subject (Beijing time)."""
    event = r.to_local(row.event_at)
    return {
        "remind_when": format_when(w, r.to_local(row.remind_at)),
        "when": format_when(w, event),
        "date": _date_label(w, event.date()),
        "subject": row.subject,
    }


def product_words(text: str) -> str:
    """The product as the customer named it, without the date and the request ("三年定期"), masked."""
    return redact(_NOT_PRODUCT.sub("", to_simplified(text)))[:20]


def _now() -> dt.datetime:
    """Now in UTC, by the actions' one clock (:func:`actions.handling.now_local`)."""
    return r.to_utc(handling.now_local())


def appointment_offer(dispatcher: CollectingDispatcher, when: dt.datetime, branch: str) -> list[EventType]:
    """After a confirmed booking: offer a reminder when there is still time for one."""
    try:
        r.remind_time("appointment", when, _now())
    except r.ReminderRefused:
        return []
    dispatcher.utter_message(response="utter_offer_appointment_reminder")
    offer = {"kind": "appointment", "event": when.isoformat(timespec="minutes"), "subject": branch}
    return [SlotSet(OFFER_SLOT, json.dumps(offer, ensure_ascii=False))]


def maturity_offer(dispatcher: CollectingDispatcher, w: Wording, tracker: Tracker, product: str) -> list[EventType]:
    """After a maturity answer to a message that named a date ahead: offer a reminder."""
    day = day_named(customer_text(tracker))
    if day is None:
        return []
    try:
        r.remind_time("maturity", dt.datetime.combine(day, dt.time()), _now())
    except r.ReminderRefused:
        return []
    dispatcher.utter_message(response="utter_offer_maturity_reminder", subject=product, date=_date_label(w, day))
    offer = {"kind": "maturity", "event": dt.datetime.combine(day, dt.time()).isoformat(), "subject": product}
    return [SlotSet(OFFER_SLOT, json.dumps(offer, ensure_ascii=False))]


def _offered(tracker: Tracker) -> dict[str, Any] | None:
    try:
        offer = json.loads(tracker.get_slot(OFFER_SLOT) or "null")
    except ValueError:
        return None
    return offer if isinstance(offer, dict) and offer.get("kind") in r.KINDS else None


class ActionSetReminder(Action):
    """Set the reminder the customer asked for: a maturity named in the message, else the one offered."""

    def name(self) -> str:
        return "action_set_reminder"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        text = customer_text(tracker)
        day = day_named(text)
        if day is not None:
            subject = product_words(text) or w("fmt_reminder_your_product")
            offer = {"kind": "maturity", "event": dt.datetime.combine(day, dt.time()).isoformat(), "subject": subject}
        else:
            offer = _offered(tracker) or {}
        if not offer:
            dispatcher.utter_message(response="utter_reminder_ask_what")
            return []
        kind, event = offer["kind"], dt.datetime.fromisoformat(offer["event"])
        subject = redact(str(offer.get("subject") or ""))[:60]
        try:
            row, new = await write_with_retry(
                lambda s: r.add(s, conversation_id(tracker), kind, subject, event, _now())
            )
        except r.ReminderRefused as refused:
            values: dict[str, Any] = {"when": format_when(w, event), "date": _date_label(w, event.date())}
            values |= {"days": r.horizon_days(), "count": r.MAX_PENDING}
            dispatcher.utter_message(response=f"utter_reminder_{refused.reason}", **values)
            return [SlotSet(OFFER_SLOT, None)]
        except KB_ERRORS:
            dispatcher.utter_message(response="utter_reminder_not_saved")
            return []
        response = f"utter_reminder_set_{kind}" if new else "utter_reminder_already_set"
        dispatcher.utter_message(response=response, **_labels(w, row))
        return [SlotSet(OFFER_SLOT, None)]


class ActionCancelReminders(Action):
    """The customer opts out: every reminder of the conversation still waiting is cancelled."""

    def name(self) -> str:
        return "action_cancel_reminders"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        count = await write_with_retry(lambda s: r.cancel_all(s, conversation_id(tracker)))
        dispatcher.utter_message(response="utter_reminders_cancelled" if count else "utter_no_reminders", count=count)
        return [SlotSet(OFFER_SLOT, None)]


class ActionListReminders(Action):
    """The reminders the customer set that are still to come."""

    def name(self) -> str:
        return "action_list_reminders"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        with kb_session() as s:
            rows = r.pending_of(s, conversation_id(tracker))
        if not rows:
            dispatcher.utter_message(response="utter_no_reminders")
            return []
        lines = "\n".join(w(f"fmt_reminder_row_{row.kind}", **_labels(w, row)) for row in rows)
        dispatcher.utter_message(response="utter_reminders_list", reminders=lines, count=len(rows))
        return []


class ActionDeliverReminders(Action):
    """Say the conversation's reminders whose time has come (claimed by the desk's scheduler).

    Run by the Rasa server's desk API (``POST /webhooks/desk/remind``) under the conversation's
    lock. Each reminder is marked sent before it is said, by a conditional update: one cancelled
    or delivered meanwhile is not said. When the knowledge base fails nothing is said and the
    reminders stay claimed; the scheduler puts them back for another attempt."""

    def name(self) -> str:
        return "action_deliver_reminders"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        try:
            with kb_session() as s:
                rows = [row for row in r.due_of(s, conversation_id(tracker)) if r.mark_sent(s, row.id)]
        except KB_ERRORS as exc:
            logger.error("reminders could not be read: %s", type(exc).__name__)
            return []
        for row in rows:
            dispatcher.utter_message(response=f"utter_reminder_{row.kind}", **_labels(w, row))
        return []
