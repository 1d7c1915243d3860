"""Questions the assistant could not answer, kept (redacted) for the staff quality view."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
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
    message_before,
    not_understood,
)
from actions.risk import DISCLOSURE_ASKED_AGAIN, disclosure_just_shown
from banktext import redact
from banktext.intents import CONVERSATION_CONTROL
from knowledge import queries as q

#: After this many misunderstood messages in a row, offer a human agent.
FALLBACKS_BEFORE_HUMAN = 2


def log_unanswered(s: Session, tracker: Tracker, reason: str, message: dict[str, Any] | None = None) -> None:
    """Record the latest message (or ``message``, a parse of an earlier one) as unanswered; its personal
    numbers are masked first."""
    message = message if message is not None else (tracker.latest_message or {})
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


def question_before(tracker: Tracker) -> dict[str, Any] | None:
    """The parse of the customer's message before the latest one, when it was a question the NLU read
    (typed, not a button, not a greeting or a yes, not one already kept as not understood)."""
    before = message_before(tracker)
    if before is None:
        return None
    text = (before.get("text") or "").strip()
    parse = before.get("parse_data") or {}
    intent = (parse.get("intent") or {}).get("name")
    if not text or text.startswith("/") or intent in CONVERSATION_CONTROL or not_understood(before):
        return None
    return {"text": text, "intent": parse.get("intent") or {}}


def answer_not_what_i_asked(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The customer says the bot misread their question ("我不是问这个", "答非所问"): an apology and a
    request to ask again in other words, with a person offered; the question it misread is kept for
    staff to label (``misread``: the desk's 问题标注 page), so that the next training reads it right."""
    missed = question_before(tracker)
    if missed is not None:
        try:
            with kb_session() as s:
                log_unanswered(s, tracker, reason="misread", message=missed)
        except KB_ERRORS as exc:  # the customer still gets the answer; only the log entry is lost
            logger.error("could not log a misread question: %s", type(exc).__name__)
    dispatcher.utter_message(response="utter_not_what_you_asked", hotline=bank_facts().get("hotline", ""))
    return [SlotSet("last_aspect", None)]


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
        if (tracker.latest_message.get("intent") or {}).get("name") != "nlu_fallback":
            # Run as the core fallback (no rule for the turn): the turn ends here. Without this the
            # policies, still finding no rule, would run the fallback again up to ten times.
            return [FollowupAction("action_listen")]
        return []
