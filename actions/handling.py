"""Reception and handling: greeting, lost cards, fraud, contact, branches and appointments."""

from __future__ import annotations

import datetime as dt
import os
from abc import ABC, abstractmethod
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import Wording, conversation_id, kb_session
from actions.datetime_zh import parse_datetime
from banktext import redact
from knowledge import queries as q
from knowledge.queries import BankView, BranchView
from knowledge.text import normalise

#: The bank's local time: opening hours and "tomorrow" are read in it.
BANK_TZ = ZoneInfo(os.environ.get("BANK_TIMEZONE", "Asia/Shanghai"))
BOOKING_DAYS_AHEAD = 30


def now_local() -> dt.datetime:
    return dt.datetime.now(BANK_TZ).replace(tzinfo=None)


def bank_values(bank: BankView | None) -> dict[str, str]:
    """The bank's own facts for responses; the domain never hard-codes them."""
    if bank is None:
        return {}
    return {
        "bank_name": bank.name,
        "hotline": bank.hotline,
        "card_hotline": bank.credit_card_hotline or bank.hotline,
        "fraud_hotline": bank.fraud_hotline or bank.hotline,
        "website": bank.website,
        "wechat": bank.wechat_account or "",
        "app_name": bank.app_name or "",
        "service_hours": bank.service_hours,
    }


class BankFactAction(Action, ABC):
    """Utter one response filled with the bank's facts from the knowledge base."""

    response = ""

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        with kb_session() as s:
            dispatcher.utter_message(response=self.response, **bank_values(q.get_bank(s)))
        return []


class ActionGreet(BankFactAction):
    response = "utter_greet"

    def name(self) -> str:
        return "action_greet"


class ActionShowCapabilities(BankFactAction):
    response = "utter_capabilities"

    def name(self) -> str:
        return "action_show_capabilities"


class ActionReportLostCard(BankFactAction):
    response = "utter_lost_card_steps"

    def name(self) -> str:
        return "action_report_lost_card"


class ActionReportFraud(BankFactAction):
    response = "utter_fraud_urgent"

    def name(self) -> str:
        return "action_report_fraud"


class ActionShowContact(BankFactAction):
    response = "utter_contact"

    def name(self) -> str:
        return "action_show_contact"


class ActionExplainBot(BankFactAction):
    response = "utter_iamabot"

    def name(self) -> str:
        return "action_explain_bot"


class ActionDeclineOutOfScope(BankFactAction):
    response = "utter_out_of_scope"

    def name(self) -> str:
        return "action_decline_out_of_scope"


# --- branches ------------------------------------------------------------------------


def _place_key(text: str) -> str:
    key = normalise(text)
    return key[:-1] if len(key) > 2 and key[-1] in "市区县" else key


def branches_in_text(s: Session, text: str) -> list[BranchView]:
    """Branches whose name, or city and district, the customer mentioned."""
    key = normalise(text)
    if not key:
        return []
    branches = q.find_branches(s)
    by_name = [b for b in branches if normalise(b.name) in key or (len(key) >= 4 and key in normalise(b.name))]
    if by_name:
        return by_name
    in_city = [b for b in branches if _place_key(b.city) in key]
    in_district = [b for b in (in_city or branches) if _place_key(b.district) in key]
    return in_district or in_city


def _weekday(w: Wording, day: dt.date) -> str:
    return w(f"fmt_weekday_{day.weekday()}")


def _hours_text(w: Wording, branch: BranchView, day: dt.date) -> str:
    span = branch.hours_on(day)
    return f"{span[0]:%H:%M}-{span[1]:%H:%M}" if span else w("fmt_closed")


def branch_list(w: Wording, branches: list[BranchView], day: dt.date) -> str:
    return "\n".join(
        w("fmt_branch_row", name=b.name, address=b.address, phone=b.phone, today=_hours_text(w, b, day))
        for b in branches
    )


class ActionFindBranches(Action):
    """Branches in the city and district the customer named, with today's hours."""

    def name(self) -> str:
        return "action_find_branches"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        text = tracker.latest_message.get("text") or ""
        with kb_session() as s:
            cities = w.join(q.list_cities(s))
            found = branches_in_text(s, text) if not text.startswith("/") else []
            if not found:
                dispatcher.utter_message(response="utter_ask_city", cities=cities)
                return []
            dispatcher.utter_message(
                response="utter_branches_found", branches=branch_list(w, found[:5], now_local().date())
            )
        return []


# --- appointments ----------------------------------------------------------------------


class ValidateAppointmentForm(FormValidationAction):
    """A real branch, a time within its opening hours in the next 30 days, a business type."""

    def name(self) -> str:
        return "validate_appointment_form"

    def validate_appointment_branch(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = str(value or "")
        with kb_session() as s:
            if q.get_branch(s, text):
                return {"appointment_branch": text}
            found = branches_in_text(s, text)
            if len(found) == 1:
                return {"appointment_branch": found[0].code}
            if found:
                dispatcher.utter_message(
                    response="utter_choose_branch",
                    buttons=[{"title": b.name, "payload": f'/inform{{"choice": "{b.code}"}}'} for b in found[:8]],
                )
            else:
                dispatcher.utter_message(
                    response="utter_branch_not_found",
                    place=redact(text)[:30],
                    cities=Wording(domain).join(q.list_cities(s)),
                )
        return {"appointment_branch": None}

    def validate_appointment_time(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        w = Wording(domain)
        now = now_local()
        when = parse_datetime(str(value or ""), now)
        if when is None:
            dispatcher.utter_message(response="utter_invalid_time", value=redact(str(value or ""))[:30])
            return {"appointment_time": None}
        label = format_when(w, when)
        if when <= now:
            dispatcher.utter_message(response="utter_time_in_past", when=label)
            return {"appointment_time": None}
        if when.date() > now.date() + dt.timedelta(days=BOOKING_DAYS_AHEAD):
            dispatcher.utter_message(response="utter_time_too_far")
            return {"appointment_time": None}
        with kb_session() as s:
            branch = q.get_branch(s, tracker.get_slot("appointment_branch") or "")
        if branch and not branch.is_open_at(when):
            dispatcher.utter_message(
                response="utter_branch_closed_then",
                branch=branch.name,
                when=label,
                hours=_hours_text(w, branch, when.date()),
            )
            return {"appointment_time": None}
        return {"appointment_time": when.isoformat(timespec="minutes")}

    def validate_appointment_business(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = redact(str(value or "")).strip()[:30]
        return {"appointment_business": text or None}


def format_when(w: Wording, when: dt.datetime) -> str:
    return w(
        "fmt_datetime",
        month=when.month,
        day=when.day,
        weekday=_weekday(w, when.date()),
        hour=when.hour,
        minute=when.minute,
    )


class ActionBookAppointment(Action):
    """Store the booking and confirm it with its code."""

    def name(self) -> str:
        return "action_book_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        when = dt.datetime.fromisoformat(tracker.get_slot("appointment_time"))
        business = tracker.get_slot("appointment_business")
        with kb_session() as s:
            branch = q.get_branch(s, tracker.get_slot("appointment_branch"))
            code = q.book_appointment(s, conversation_id(tracker), branch.code, when, business)
        dispatcher.utter_message(
            response="utter_appointment_confirmed",
            code=code,
            branch=branch.name,
            address=branch.address,
            when=format_when(w, when),
            business=business,
        )
        return [SlotSet(slot, None) for slot in ("appointment_branch", "appointment_time", "appointment_business")]
