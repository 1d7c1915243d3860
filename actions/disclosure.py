"""The customer's answer to a risk disclosure: acknowledged (audited), or declined."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import Wording, conversation_id, kb_guard, kb_session
from actions.products import answer, compare_answer
from actions.recommend import show_recommendations
from actions.resolve import disclosure_codes
from actions.risk import DISCLOSURE_ASKED_AGAIN, acknowledged, disclosure_just_shown, said_yes_plainly
from knowledge import queries as q

_CLEARED = [SlotSet("disclosure_pending", False), SlotSet("disclosure_product", None), SlotSet("pending_aspect", None)]


class ActionAcknowledgeDisclosure(Action):
    """Record the acknowledgement of every disclosure shown, then answer the waiting question."""

    def name(self) -> str:
        return "action_acknowledge_disclosure"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        if not disclosure_just_shown(tracker):
            # the disclosure was shown before the talk moved on: this "好的" answers something else
            dispatcher.utter_message(response="utter_disclosure_expired")
            return list(_CLEARED)
        if not said_yes_plainly(tracker):
            # an acknowledgement is recorded for the regulator: a guessed yes asks again, nothing is cleared
            dispatcher.utter_message(response=DISCLOSURE_ASKED_AGAIN)
            return []
        codes = disclosure_codes(tracker)
        aspect = tracker.get_slot("pending_aspect") or "info"
        done = acknowledged(tracker)
        events: list[EventType] = []
        with kb_session() as s:
            products = [p for p in (q.get_product(s, c) for c in codes) if p]
            for p in products:
                disclosure = q.disclosure_for(s, p.code)
                if p.needs_disclosure and disclosure and p.code not in done:
                    q.record_disclosure_ack(s, conversation_id(tracker), p.code, disclosure)
                    dispatcher.utter_message(response="utter_disclosure_acknowledged", version=disclosure.version)
                    done.append(p.code)
            events += [*_CLEARED, SlotSet("acknowledged_products", done)]
            if aspect == "compare" and len(products) > 1:
                events += compare_answer(s, [p.code for p in products], dispatcher, w)
            elif aspect == "recommend":
                events += show_recommendations(s, tracker, dispatcher, w, [p.code for p in products])
            elif products:
                events += answer(aspect, s, products[0], tracker, dispatcher, w)
        return events


class ActionDeclineDisclosure(Action):
    """The customer does not want to go on: nothing is recorded, nothing is detailed."""

    def name(self) -> str:
        return "action_decline_disclosure"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if not disclosure_just_shown(tracker):
            dispatcher.utter_message(response="utter_anything_else")
            return list(_CLEARED)
        dispatcher.utter_message(response="utter_disclosure_declined")
        return list(_CLEARED)
