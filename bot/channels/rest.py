"""The REST channel for the bank's own systems (an app back end, load tests), through the gateway.

Configured in ``credentials.yml`` as ``bot.channels.rest.GatewayRestInput``; it answers at
Rasa's usual ``/webhooks/rest/webhook``. Differences from rasa's ``RestInput`` and why:

* it is for server-to-server use: every request needs ``Authorization: Bearer <token>``
  with the ``REST_CHANNEL_TOKEN`` from the environment; without a configured token the
  channel answers 503 and reaches no conversation;
* its conversations live in their own id space (``rest:<sender>``): a REST caller cannot
  write into a website or WeChat customer's conversation by naming its id;
* every message goes through :mod:`bot.channels.gateway` (cleaning, masking, typed
  commands as text, an answer even when the action server is down);
* a body that is not a JSON object with a string ``message`` and a short ``sender``, or
  with ``metadata`` that is not an object, gets 400 with a clear message, never 500;
* nothing the customer typed is logged, on the error path either.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.gateway import Incoming, gateway

logger = logging.getLogger(__name__)

CHANNEL = "rest"
PREFIX = "rest:"
MAX_BODY_BYTES = 64 * 1024
_SENDER = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")


def _bad(message: str) -> HTTPResponse:
    return response.json({"error": message}, status=400)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def parse_body(raw: bytes) -> tuple[str, str, dict[str, Any]] | str:
    """(sender, message, metadata) of a request body, or the reason it is refused."""
    if len(raw) > MAX_BODY_BYTES:
        return f"the body is larger than {MAX_BODY_BYTES} bytes"
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "the body must be a JSON object"
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata", {})
    if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
        return "'sender' must be 1-64 characters of letters, digits and _ . : @ -"
    if not isinstance(message, str):
        return "'message' must be a string"
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        return "'metadata' must be a JSON object"
    return sender, message, metadata


class GatewayRestInput(InputChannel):
    """Rasa's REST protocol (``{"sender", "message"}`` in, a list of bot messages out), locked down."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls((credentials or {}).get("token") or os.environ.get("REST_CHANNEL_TOKEN", ""))

    def __init__(self, token: str = "") -> None:
        self.token = token

    def _authorised(self, request: Request) -> bool:
        given = request.headers.get("Authorization", "")
        return bool(self.token) and hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("rest_webhook", __name__)

        @bp.listener("before_server_start")
        async def bind_gateway(app: Sanic, _: Any) -> None:
            gateway.bind(app)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.token else "not configured"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.token:
                return response.json({"error": "the REST channel is not configured (REST_CHANNEL_TOKEN)"}, status=503)
            if not self._authorised(request):
                return response.json({"error": "unauthorised"}, status=401)
            parsed = parse_body(request.body or b"")
            if isinstance(parsed, str):
                return _bad(parsed)
            sender, message, metadata = parsed
            collector = CollectingOutputChannel()
            # a request sent again with the same id (nginx's $request_id when it retries on another
            # server, or the caller's own) gets the stored answers instead of a second turn
            request_id = request.headers.get("X-Request-ID", "")
            message_id = PREFIX + request_id if _REQUEST_ID.fullmatch(request_id) else None
            await gateway.receive(
                Incoming(
                    channel=CHANNEL, sender_id=PREFIX + sender, text=message, metadata=metadata, message_id=message_id
                ),
                on_new_message,
                collector,
            )
            return response.json(collector.messages)

        return bp
