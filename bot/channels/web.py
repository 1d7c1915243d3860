"""The website chat: Rasa's socket.io channel routed through the gateway, serving its own page.

Configured in ``credentials.yml`` as ``bot.channels.web.WebChatInput``. On the Rasa
server's port it provides

* ``/webhooks/web/`` – the chat page (``web/index.html``, ``chat.js``, ``chat.css``) and
  socket.io-client's browser build from ``web/node_modules`` (installed by ``make setup``,
  never a CDN), with a strict Content-Security-Policy; ``/chat`` redirects there;
* ``/webhooks/web/config.json`` – the socket.io path and event names the page uses, so
  ``credentials.yml`` stays the one place they are set;
* the socket.io endpoint (``/socket.io``) speaking Rasa's socket.io protocol
  (``session_request`` / ``session_confirm`` / ``user_uttered`` / ``bot_uttered``) plus
  an ``agent_status`` event when a human agent takes the conversation or gives it back.

Differences from rasa's ``SocketIOInput`` and why:

* every message goes through :func:`bot.channels.gateway.Gateway.receive` (masking,
  human hand-over) instead of straight to the bot;
* ``enter_room`` is awaited: in python-socketio 5 it is a coroutine, and rasa 3.6 calls
  it without ``await``, so the socket never joined its session's room and replies to a
  persisted session were lost;
* a socket speaks only for the session it requested (kept in the socket.io session), and
  a session is resumed only with the signed token this server issued for it
  (:mod:`bot.channels.security`); an unknown, forged or self-chosen id gets a new session,
  so a client can neither read nor write another customer's conversation;
* buttons carry the signature of their payload, which the page sends back with a click:
  a typed ``/command`` is text, not a command;
* socket.io connections are accepted from the page's own origin only, unless
  ``cors_allowed_origins`` says otherwise.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import rasa.core.channels.channel
import socketio
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels import security
from bot.channels.gateway import Incoming, Message, gateway

logger = logging.getLogger(__name__)

CHANNEL = "web"
WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
# The page refuses longer input; the server holds the same line for other clients.
MAX_MESSAGE_CHARS = 500

# URL (relative to the channel's prefix) -> (file under web/, content type). Only these are served.
ASSETS: dict[str, tuple[str, str]] = {
    "chat.js": ("chat.js", "text/javascript; charset=utf-8"),
    "chat.css": ("chat.css", "text/css; charset=utf-8"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
    "vendor/socket.io.min.js": (
        "node_modules/socket.io-client/dist/socket.io.min.js",
        "text/javascript; charset=utf-8",
    ),
}
PAGE = "index.html"

# No inline script or style, nothing from another origin except https images in bot
# messages; socket.io (polling and websocket) goes to this origin only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-cache",
}


class WebChatOutput(SocketIOOutput):
    """Rasa's socket.io output, named after this channel and emitting custom payloads whole."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str, namespace: str | None = None) -> None:
        super().__init__(sio, bot_message_evt)
        self.namespace = namespace

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def _send_message(self, socket_id: str, response: Any) -> None:
        await self.sio.emit(self.bot_message_evt, response, room=socket_id, namespace=self.namespace)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Rasa's quick replies, each with its payload's signature (the page returns it with a click)."""
        parts = text.strip().split("\n\n") or [text]
        messages: list[dict[str, Any]] = [{"text": part} for part in parts]
        messages[-1]["quick_replies"] = [
            {
                "content_type": "text",
                "title": button["title"],
                "payload": button["payload"],
                security.SIGNATURE_KEY: button.get(security.SIGNATURE_KEY)
                or security.sign_payload(recipient_id, button["payload"]),
            }
            for button in buttons
        ]
        for message in messages:
            await self._send_message(recipient_id, message)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        # rasa passes the dict as emit()'s keyword arguments, which breaks on any key but `data`
        await self._send_message(recipient_id, {"custom": json_message})


class WebOutbound:
    """The gateway's way to reach a website conversation: its socket.io room."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str, agent_status_evt: str, namespace: str | None):
        self._output = WebChatOutput(sio, bot_message_evt, namespace)
        self._sio = sio
        self._agent_status_evt = agent_status_evt
        self._namespace = namespace

    async def deliver(self, recipient_id: str, messages: list[Message]) -> None:
        """Emit ``messages`` to every page open on the conversation, as the bot's replies are."""
        for message in messages:
            await self._output.send_response(recipient_id, dict(message))

    async def agent_status(self, recipient_id: str, agent: str | None) -> None:
        """Tell the page who holds the conversation: ``{"agent": name}``, or ``{"agent": None}`` for the bot."""
        await self._sio.emit(self._agent_status_evt, {"agent": agent}, room=recipient_id, namespace=self._namespace)


class WebChatBlueprint(SocketBlueprint):
    """Attaches socket.io and also answers ``/chat`` (outside the channel's prefix) with a redirect to the page."""

    def __init__(self, sio: AsyncServer, socketio_path: str, page_alias: str | None, *args: Any, **kwargs: Any):
        super().__init__(sio, socketio_path, *args, **kwargs)
        self.ctx.page_alias = page_alias

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        super().register(app, options)
        alias = self.ctx.page_alias
        if alias:
            page_url = (options.get("url_prefix") or "").rstrip("/") + "/"

            async def webchat_page_alias(_: Request) -> HTTPResponse:
                return response.redirect(page_url, status=302)

            app.add_route(webchat_page_alias, alias, methods=["GET"], name="webchat_page_alias")


def _asset_response(relative: str, content_type: str) -> Awaitable[HTTPResponse]:
    path = WEB_ROOT / relative
    if not path.is_file():
        logger.error("web chat asset %s is missing: run `make setup` (npm ci in web/)", path)
        return _not_found()
    return response.file(path, mime_type=content_type, headers=dict(SECURITY_HEADERS))


async def _not_found() -> HTTPResponse:
    return response.text("not found", status=404, headers=dict(SECURITY_HEADERS))


def _message_metadata(data: dict[str, Any], key: str) -> dict[str, Any]:
    metadata = data.get(key) or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return {}
    return metadata if isinstance(metadata, dict) else {}


class WebChatInput(SocketIOInput):
    """Rasa's socket.io input for the bank's website, through the gateway, with its page.

    ``credentials.yml`` takes rasa's ``socketio`` keys (``user_message_evt``,
    ``bot_message_evt``, ``namespace``, ``session_persistence``, ``socketio_path``,
    ``jwt_key``, ``jwt_method``, ``metadata_key``) and ``agent_status_evt`` (default
    ``agent_status``), ``cors_allowed_origins`` (default: the page's own origin only;
    ``"*"`` or a list for a widget embedded elsewhere) and ``page_alias`` (default
    ``/chat``; empty for none).
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            credentials.get("session_persistence", True),
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key"),
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "metadata"),
            agent_status_evt=credentials.get("agent_status_evt", "agent_status"),
            cors_allowed_origins=credentials.get("cors_allowed_origins"),
            page_alias=credentials.get("page_alias", "/chat"),
        )

    def __init__(
        self,
        *args: Any,
        agent_status_evt: str = "agent_status",
        cors_allowed_origins: Any | None = None,
        page_alias: str | None = "/chat",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.agent_status_evt = agent_status_evt
        self.cors_allowed_origins = cors_allowed_origins
        self.page_alias = page_alias

    def get_output_channel(self) -> WebChatOutput | None:
        if self.sio is None:
            return None
        return WebChatOutput(self.sio, self.bot_message_evt, self.namespace)

    def page_config(self) -> dict[str, Any]:
        """What the page needs to talk to this channel (served as config.json)."""
        return {
            "socket_path": self.socketio_path,
            "namespace": self.namespace or "/",
            "user_message_evt": self.user_message_evt,
            "bot_message_evt": self.bot_message_evt,
            "agent_status_evt": self.agent_status_evt,
            "max_message_chars": MAX_MESSAGE_CHARS,
        }

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The page's routes and the socket.io handlers; registers this channel with the gateway."""
        # several server instances: a reply emitted on one reaches a page connected to another
        redis_url = os.environ.get("WEB_CHAT_REDIS_URL")
        manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.cors_allowed_origins, client_manager=manager)
        self.sio = sio
        namespace = self.namespace
        bp = WebChatBlueprint(sio, self.socketio_path, self.page_alias, "web_chat", __name__)
        gateway.register_channel(CHANNEL, WebOutbound(sio, self.bot_message_evt, self.agent_status_evt, namespace))

        @bp.listener("before_server_start")
        async def bind_gateway(app: Sanic, _: Any) -> None:
            gateway.bind(app)

        if not (WEB_ROOT / ASSETS["vendor/socket.io.min.js"][0]).is_file():
            logger.warning("web/node_modules is missing: the chat page will not load until `make setup` has run")

        @bp.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                # the page's asset URLs are relative to the channel's folder
                return response.redirect(request.path + "/", status=301)
            return await _asset_response(PAGE, "text/html; charset=utf-8")

        @bp.route("/<asset:path>", methods=["GET"])
        async def asset(request: Request, asset: str) -> HTTPResponse:
            if asset in ("", PAGE):  # sanic routes ".../web/" here rather than to "/"
                return await page(request)
            if asset not in ASSETS:
                return await _not_found()
            return await _asset_response(*ASSETS[asset])

        @bp.route("/config.json", methods=["GET"])
        async def config(_: Request) -> HTTPResponse:
            return response.json(self.page_config(), headers=dict(SECURITY_HEADERS))

        @bp.route("/health", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, auth: dict | None) -> bool:
            if not self.jwt_key:
                return True
            token = auth.get("token") if isinstance(auth, dict) else None
            payload = (
                rasa.core.channels.channel.decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)
                if token
                else None
            )
            return bool(payload)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: dict | None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = security.session_from_token(requested)
            token = requested
            if session_id is None:
                if requested:
                    logger.info("web chat: an unknown or unsigned session id was replaced by a new session")
                session_id, token = security.issue_session()
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=namespace)
            else:
                session_id = token = sid
            await sio.save_session(sid, {"session_id": session_id}, namespace=namespace)
            # the page keeps the signed token and presents it to resume the conversation
            await sio.emit("session_confirm", token, room=sid, namespace=namespace)
            # a reloaded page learns whether an agent still holds the conversation
            await sio.emit(
                self.agent_status_evt, {"agent": gateway.agent_of(session_id)}, room=sid, namespace=namespace
            )

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                logger.warning("web chat: malformed message ignored")
                return
            if self.session_persistence:
                session = await sio.get_session(sid, namespace=namespace)
                sender_id = session.get("session_id")
                if not sender_id:
                    logger.warning("web chat: message before session_request ignored")
                    return
            else:
                sender_id = sid
            await gateway.receive(
                Incoming(
                    channel=CHANNEL,
                    sender_id=sender_id,
                    text=data.get("message", "")[:MAX_MESSAGE_CHARS],
                    metadata=_message_metadata(data, self.metadata_key),
                ),
                on_new_message,
                WebChatOutput(sio, self.bot_message_evt, namespace),
            )

        return bp
