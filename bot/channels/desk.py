"""The staff desk's way into conversations: a small token-protected API on the Rasa server.

The desk service (:mod:`desk`, its own process) owns the queue and the staff; a person's
actions that touch a conversation come here, because only the Rasa server can reach the
customer's channel (the web page's socket, WeChat's customer-service API) and store events
in the conversation under its lock:

* ``POST /webhooks/desk/hand_over`` ``{"conversation_id", "agent"}`` — a person takes the
  conversation (the bot is paused, the customer told); ``"agent": null`` gives it back;
* ``POST /webhooks/desk/say`` ``{"conversation_id", "agent", "text"}`` — a person's reply,
  stored in the conversation (masked) and delivered;
* ``POST /webhooks/desk/resolve`` ``{"conversation_id"}`` — the person is done: the bot takes
  over again and asks for a 1-5 rating (``action_ask_satisfaction``);
* ``POST /webhooks/desk/remind`` ``{"conversation_id"}`` — the desk's scheduler claimed
  reminders of this conversation whose time has come: the bot says them
  (``action_deliver_reminders``, which marks them sent) on the customer's channel.

Every route wants ``Authorization: Bearer $DESK_BRIDGE_TOKEN`` (the desk and the Rasa server
share it through ``var/secrets.env``); without the variable the API answers 503.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.gateway import MAX_TEXT_CHARS, gateway

logger = logging.getLogger(__name__)

TOKEN_ENV = "DESK_BRIDGE_TOKEN"
SATISFACTION_ACTION = "action_ask_satisfaction"
REMINDER_ACTION = "action_deliver_reminders"
MAX_NAME_CHARS = 60


def _token() -> str:
    return os.environ.get(TOKEN_ENV, "")


def _refused(request: Request) -> HTTPResponse | None:
    token = _token()
    if not token:
        return response.json({"error": "the desk API is off: DESK_BRIDGE_TOKEN is not set"}, status=503)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return response.json({"error": "unauthorized"}, status=401)
    return None


def _checked(request: Request) -> tuple[dict[str, Any], HTTPResponse | None]:
    """The request's body when it carries the token and names a conversation, else the refusal."""
    refused = _refused(request)
    if refused:
        return {}, refused
    body, bad = _body(request)
    return body or {}, bad


def _body(request: Request) -> tuple[dict[str, Any] | None, HTTPResponse | None]:
    try:
        body = request.json
    except Exception:  # malformed JSON
        body = None
    if not isinstance(body, dict):
        return None, response.json({"error": "a JSON object is expected"}, status=400)
    conversation = body.get("conversation_id")
    if not isinstance(conversation, str) or not conversation or len(conversation) > 255:
        return None, response.json({"error": "conversation_id is missing"}, status=400)
    agent = body.get("agent")
    if agent is not None and (not isinstance(agent, str) or not agent.strip() or len(agent) > MAX_NAME_CHARS):
        return None, response.json({"error": "agent must be a name"}, status=400)
    return body, None


class DeskBridgeInput(InputChannel):
    """Registered in credentials.yml like a channel, so its routes live under /webhooks/desk/."""

    @classmethod
    def name(cls) -> str:
        return "desk"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        desk = Blueprint("desk_bridge", __name__)

        @desk.listener("before_server_start")
        async def bind_gateway(app: Any, _: Any) -> None:
            gateway.bind(app)

        @desk.route("/health", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if _token() else "off"})

        @desk.route("/hand_over", methods=["POST"])
        async def hand_over(request: Request) -> HTTPResponse:
            body, refused = _checked(request)
            if refused:
                return refused
            reached = await gateway.hand_over(body["conversation_id"], body.get("agent"))
            return response.json({"ok": True, "reached": reached})

        @desk.route("/say", methods=["POST"])
        async def say(request: Request) -> HTTPResponse:
            body, refused = _checked(request)
            if refused:
                return refused
            text = body.get("text")
            if not body.get("agent") or not isinstance(text, str) or not text.strip():
                return response.json({"error": "agent and text are needed"}, status=400)
            if len(text) > MAX_TEXT_CHARS:
                return response.json({"error": f"at most {MAX_TEXT_CHARS} characters"}, status=400)
            reached = await gateway.agent_says(body["conversation_id"], body["agent"], text)
            return response.json({"ok": True, "reached": reached})

        @desk.route("/resolve", methods=["POST"])
        async def resolve(request: Request) -> HTTPResponse:
            body, refused = _checked(request)
            if refused:
                return refused
            conversation = body["conversation_id"]
            reached = await gateway.hand_over(conversation, None)
            try:
                await _bot_says(request.app.ctx.agent, conversation, SATISFACTION_ACTION)
            except Exception as exc:  # the hand-back stands; only the rating question is lost
                logger.error("could not ask for a rating after a handoff: %s", type(exc).__name__)
            return response.json({"ok": True, "reached": reached})

        @desk.route("/remind", methods=["POST"])
        async def remind(request: Request) -> HTTPResponse:
            body, refused = _checked(request)
            if refused:
                return refused
            try:
                said, reached = await _bot_says(request.app.ctx.agent, body["conversation_id"], REMINDER_ACTION)
            except Exception as exc:  # the scheduler sees the reminders unsent and tries again later
                logger.error("could not deliver reminders: %s", type(exc).__name__)
                return response.json({"error": "the reminders could not be delivered"}, status=502)
            return response.json({"ok": True, "said": said, "reached": reached})

        return desk


async def _bot_says(agent: Any, conversation: str, action: str) -> tuple[int, bool]:
    """Run ``action`` in the conversation under its lock, store what it says, and deliver that on
    the customer's channel; returns (messages said, delivered). Raises when the action fails."""
    output = CollectingOutputChannel()
    await gateway.locate(conversation)  # before the action opens a new session, if it does
    async with agent.lock_store.lock(conversation):
        tracker = await agent.execute_action(conversation, action, output, None, None)
        if tracker is not None:  # the bot listens again, as after any turn
            tracker.update(ActionExecuted("action_listen"))
            await agent.tracker_store.save(tracker)
    if not output.messages:
        return 0, False
    reached = await gateway.send(conversation, [_without_recipient(m) for m in output.messages])
    return len(output.messages), reached


def _without_recipient(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "recipient_id"}
