"""After-sales: complaints, hand-off to a human agent, leaving a form."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Wording, conversation_id, kb_session
from actions.handling import bank_values
from banktext import mask_phone, redact
from knowledge import queries as q

#: Replies that mean "no call-back, thanks" to the contact question (parsing vocabulary).
NO_CONTACT = ("不用", "不需要", "不要", "算了", "不方便", "no")
MIN_DESCRIPTION = 4


class ValidateComplaintForm(FormValidationAction):
    """Category, a description long enough to act on, a contact number (stored masked) or none."""

    def name(self) -> str:
        return "validate_complaint_form"

    def validate_complaint_category(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        return {"complaint_category": redact(str(value or "")).strip()[:20] or None}

    def validate_complaint_description(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = redact(str(value or "")).strip()
        if len(text) < MIN_DESCRIPTION:
            dispatcher.utter_message(response="utter_invalid_complaint_description")
            return {"complaint_description": None}
        return {"complaint_description": text[:2000]}

    def validate_complaint_contact(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = str(value or "").strip()
        masked = mask_phone(text)
        if masked:
            return {"complaint_contact": masked}
        if any(word in text.lower() for word in NO_CONTACT):
            return {"complaint_contact": "-"}
        dispatcher.utter_message(response="utter_invalid_contact")
        return {"complaint_contact": None}


class ActionLodgeComplaint(Action):
    """Store the complaint (redacted, contact masked) and give its reference."""

    def name(self) -> str:
        return "action_lodge_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        contact = tracker.get_slot("complaint_contact")
        contact = None if contact in (None, "-") else contact
        with kb_session() as s:
            code = q.lodge_complaint(
                s,
                conversation_id(tracker),
                tracker.get_slot("complaint_category") or "",
                redact(tracker.get_slot("complaint_description") or ""),
                contact,
            )
        dispatcher.utter_message(
            response="utter_complaint_recorded",
            code=code,
            contact_note=w("fmt_contact_note", contact=contact) if contact else "",
        )
        return [SlotSet(slot, None) for slot in ("complaint_category", "complaint_description", "complaint_contact")]


class ActionHandoffToHuman(Action):
    """Tell the customer a human agent is being connected, with the hotline as a fallback."""

    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        with kb_session() as s:
            dispatcher.utter_message(response="utter_handoff", **bank_values(q.get_bank(s)))
        return []


class ActionStopForm(Action):
    """Leave whatever form is active, forgetting its half-filled answers."""

    def name(self) -> str:
        return "action_stop_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response="utter_form_stopped")
        form = (tracker.active_loop or {}).get("name")
        slots = (domain.get("forms", {}).get(form, {}) or {}).get("required_slots", []) if form else []
        return [ActiveLoop(None), SlotSet("requested_slot", None), *(SlotSet(slot, None) for slot in slots)]
