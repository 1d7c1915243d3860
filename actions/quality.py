"""Questions the assistant could not answer, kept (redacted) for the staff quality view."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import (
    KB_ERRORS,
    bank_facts,
    conversation_id,
    did_not_follow,
    explain_again,
    kb_session,
    logger,
    not_understood,
)
from actions.risk import DISCLOSURE_ASKED_AGAIN, disclosure_just_shown
from banktext import redact
from knowledge import queries as q

#: After this many misunderstood messages in a row, offer a human agent.
FALLBACKS_BEFORE_HUMAN = 2


def log_unanswered(s: Session, tracker: Tracker, reason: str) -> None:
    """Record the latest message as unanswered; its personal numbers are masked first."""
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    confidence = (message.get("intent") or {}).get("confidence")
    q.log_unanswered(
        s,
        conversation_id(tracker),
        redact(message.get("text") or ""),
        reason=reason,
        intent=intent,
        confidence=float(confidence) if confidence is not None else None,
    )


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the customer's latest messages in a row the NLU did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if not not_understood(event):
            break
        count += 1
    return count


class ActionHandleFallback(Action):
    """Ask to rephrase; after repeated misunderstanding, offer a human agent. A customer who says they
    did not follow the bot gets an apology and a person to explain. Logs each question not understood."""

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = (tracker.latest_message.get("text") or "").strip()
        unclear_to_customer = did_not_follow(tracker)
        at_disclosure = bool(tracker.get_slot("disclosure_pending")) and disclosure_just_shown(tracker)
        if text and not unclear_to_customer:  # "什么意思" is no question the knowledge base lacks
            try:
                with kb_session() as s:
                    log_unanswered(s, tracker, reason="fallback")
            except KB_ERRORS as exc:  # the customer still gets the answer; only the log entry is lost
                logger.error("could not log an unanswered question: %s", type(exc).__name__)
        if not text:
            dispatcher.utter_message(response="utter_empty_message")
        elif unclear_to_customer and not at_disclosure:  # at a disclosure, the re-ask offers a person too
            explain_again(dispatcher)
        elif consecutive_fallbacks(tracker) >= FALLBACKS_BEFORE_HUMAN:
            dispatcher.utter_message(response="utter_offer_human", hotline=bank_facts().get("hotline", ""))
        elif at_disclosure:
            # the answer to a risk disclosure was not understood: say again which answers it takes
            dispatcher.utter_message(response=DISCLOSURE_ASKED_AGAIN)
        else:
            dispatcher.utter_message(response="utter_please_rephrase")
        return []
