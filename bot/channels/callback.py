"""Call-back numbers a customer gives with a complaint: sealed for staff, never stored readable.

The gateway masks every phone number before the bot sees it, so the complaint form takes
``138****5678`` and the ticket carries it masked: the tracker store, the logs, the reports
and the transcripts never hold the number. The bank still has to call. So the gateway keeps
the digits of the numbers it masked in a message (in memory, for that message only); after
the bot's turn, when the form took one of them as the call-back number (the turn set the slot
``complaint_contact`` to its masked form), the number is sealed with ``CALLBACK_NUMBER_KEY``
(:mod:`banktext.sealing`) and handed to the action server (``POST /callback_numbers``, with
the action server's shared secret), which stores it with the conversation's pseudonym. Only the
staff console, which has the key, opens it next to the ticket.

Numbers the form did not take (a phone number in a question about a lost card) are forgotten
with the message. Without a key nothing is sealed: the ticket keeps the masked number only.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.shared.core.events import SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig

from banktext import sealing

logger = logging.getLogger(__name__)

CONTACT_SLOT = "complaint_contact"
ROUTE = "/callback_numbers"
_warned = False


def taken_this_turn(events: Any, turns: int) -> set[str]:
    """The masked numbers the complaint form took since the customer's last ``turns`` messages."""
    taken: set[str] = set()
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            turns -= 1
            if turns <= 0:
                break
        elif isinstance(event, SlotSet) and event.key == CONTACT_SLOT and isinstance(event.value, str):
            taken.add(event.value)
    return taken


def _route(action_endpoint: EndpointConfig) -> EndpointConfig:
    """The action server's call-back-number route, beside its ``/webhook``, with the same secret."""
    base = action_endpoint.url.rstrip("/")
    base = base[: -len("/webhook")] if base.endswith("/webhook") else base
    return EndpointConfig(url=base + ROUTE, headers=action_endpoint.headers)


async def keep_taken_numbers(agent: Any, conversation_id: str, phones: list[tuple[str, str]], turns: int) -> int:
    """Seal and hand over each of ``phones`` (masked, digits) the form took in this turn; how many.

    Never raises: a failure loses only the sealed copy (the ticket keeps the masked number).
    """
    global _warned
    if agent is None or not phones or getattr(agent, "action_endpoint", None) is None:
        return 0
    if not sealing.can_seal():
        if not _warned:
            _warned = True
            logger.warning("%s is not set: call-back numbers are kept masked only", sealing.KEY_ENV)
        return 0
    try:
        tracker = await agent.tracker_store.retrieve(conversation_id)
        taken = taken_this_turn(tracker.events, turns) if tracker is not None else set()
        kept = 0
        for masked, digits in dict(phones).items():
            if masked not in taken:
                continue
            body = {"conversation_id": conversation_id, "masked": masked, "sealed": sealing.seal(digits)}
            await _route(agent.action_endpoint).request(method="post", json=body)
            kept += 1
        return kept
    except Exception as exc:  # the action server down, a store error: never the customer's problem
        logger.error("a call-back number could not be kept for staff: %s", type(exc).__name__)
        return 0
