"""The WeChat Official Account channel: WeChat's XML callbacks in, passive replies and customer-service messages out.

WeChat POSTs every customer message to ``/webhooks/wechat/webhook`` and expects the
answer in the HTTP response within 5 seconds; without one it drops the connection
and sends the same message again, up to three times. So the channel

* verifies every request (the token signature, in safe mode the message signature
  and AES encryption) and refuses anything that is not a small, plain WeChat XML
  document before a single byte reaches the bot;
* starts one bot turn per message (retries are recognised by ``MsgId``, events by
  sender and ``CreateTime``) and answers passively when the bot is done within
  ``reply_deadline`` seconds; otherwise it acknowledges, and the answer follows
  through the customer-service API as soon as the bot has it;
* turns the bot's buttons into a numbered list and maps the number the customer
  replies with back to that button's payload;
* keeps every text within WeChat's length limit.

Every message reaches the bot through :data:`bot.channels.gateway.gateway`, which
masks personal numbers and routes to a human agent when one holds the conversation.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.channels.gateway import Incoming, Message, gateway
from bot.channels.wechat_client import WeChatAPI
from bot.nlu.numbers import parse_number
from bot.settings import WeChatSettings

logger = logging.getLogger(__name__)

# WeChat cuts text messages at 2048 UTF-8 bytes (some accounts report 2047): stay below.
TEXT_LIMIT = 2000
# A WeChat callback is well under 2 KB; anything this large is not from WeChat.
MAX_BODY = 64 * 1024
# The signature covers only token, timestamp and nonce: refuse replays of old ones.
MAX_CLOCK_SKEW = 300
# WeChat retries within about 15 s; remember turns well beyond that, for a bounded number.
TURN_TTL = 300.0
MAX_TURNS = 10_000
MAX_MENUS = 100_000
# The passive reply and the customer-service messages travel different ways; wait a
# little before sending the rest of an answer so it does not overtake its beginning.
REST_DELAY = 1.0

# Chinese text the customer reads normally lives in domain.yml. These few lines are
# the channel's own: the bot never sees a picture or a timeout, so no action could say
# them, and the trained model's domain cannot gain responses without retraining.
# Move them to domain.yml (utter_wechat_*) at the next retraining.
TEXT_ONLY = "抱歉，目前我只能看懂文字消息。请直接输入您的问题，例如“大额存单利率多少”“信用卡丢了怎么办”。"
PLEASE_WAIT = "正在为您查询，请稍候…"
SORRY = "抱歉，系统暂时无法处理，请稍后再试，或拨打客服热线咨询。"
AGENT_JOINED = "已为您接通人工客服{agent}，请直接描述您的问题。"
BOT_BACK = "人工客服已结束服务，智能助手小澜继续为您服务。有什么可以帮您？"
MENU_HINT = "回复数字即可"

# What a new follower sees: the reception's greeting with its capability menu.
GREETING = "/greet"

_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.S)
_CHOICE = re.compile(r"^第?(\d{1,2}|[一二三四五六七八九十])[个项条]?[.。、)）]?$")
_REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")


class BadRequest(ValueError):
    """The request is not a WeChat message this channel accepts (answered with 400)."""


# --- text shaping: pure functions ---------------------------------------------


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


# Where a long text may be cut, best first; True: the separator itself is dropped at a cut.
_CUTS = (
    ("\n\n", True),
    ("\n", True),
    ("。", False),
    ("！", False),
    ("？", False),
    ("；", False),
    ("，", False),
    (" ", True),
)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, cut at paragraphs, lines, sentences, or characters."""
    text = text.strip()
    if utf8_len(text) <= limit:
        return [text] if text else []
    for separator, dropped in _CUTS:
        parts = text.split(separator)
        if len(parts) == 1:
            continue
        if not dropped:  # a sentence keeps its full stop
            parts = [part + separator for part in parts[:-1]] + parts[-1:]
        pieces = [piece for part in parts for piece in split_text(part, limit)]
        return _pack(pieces, limit, separator if dropped else "")
    chunks = [""]  # one unbroken run of characters: cut between them
    for ch in text:
        if utf8_len(chunks[-1] + ch) > limit:
            chunks.append("")
        chunks[-1] += ch
    return chunks


def _pack(pieces: list[str], limit: int, joiner: str) -> list[str]:
    packets: list[str] = []
    for piece in pieces:
        if packets and utf8_len(packets[-1] + joiner + piece) <= limit:
            packets[-1] += joiner + piece
        elif piece:
            packets.append(piece)
    return packets


def pack_texts(texts: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """The bot's texts as few WeChat messages as fit: joined by blank lines, long ones split."""
    return _pack([piece for text in texts for piece in split_text(text, limit)], limit, "\n\n")


def render(messages: list[Message], hint: str = MENU_HINT) -> tuple[list[str], list[str]]:
    """The bot's messages as WeChat texts, and the payloads of their buttons in the order they are numbered.

    ``hint``: the line under a numbered menu (:data:`MENU_HINT` in the customer's script)."""
    texts: list[str] = []
    menu: list[str] = []
    for message in messages:
        lines = [str(message["text"])] if message.get("text") else []
        for key in ("image", "attachment"):
            if message.get(key):
                lines.append(str(message[key]))
        buttons = [b for b in message.get("buttons") or [] if b.get("payload")]
        for button in buttons:
            menu.append(str(button["payload"]))
            lines.append(f"{len(menu)}. {button.get('title') or button['payload']}")
        if buttons:
            lines.append(hint)
        if message.get("custom") and not lines:
            logger.debug("custom payload not shown on WeChat: %s", message["custom"])
        if lines:
            texts.append("\n".join(lines))
    return texts, menu


def choose(text: str, menu: list[str]) -> str | None:
    """The payload of the menu entry ``text`` names by its number ("1", "１", "一", "第2个"), if any."""
    match = _CHOICE.match(unicodedata.normalize("NFKC", text).strip())
    if not match or not menu:
        return None
    number = int(parse_number(match.group(1)) or 0)
    return menu[number - 1] if 1 <= number <= len(menu) else None


def _reject_markup(xml: str) -> None:
    # DOCTYPE and ENTITY declarations (XXE, billion laughs) never occur in WeChat's
    # XML; outside CDATA sections (where a customer's own "<!" may legitimately sit)
    # any "<!" is refused before a parser sees it.
    if "<!" in _CDATA.sub("", xml):
        raise BadRequest("markup declarations are not accepted")


def _xml_fields(xml: str) -> dict[str, Any]:
    _reject_markup(xml)
    try:
        document = xmltodict.parse(xml)  # entity declarations are refused here too
    except Exception as e:  # expat errors, ValueError from the entity guard
        raise BadRequest(f"not well-formed XML: {e}") from None
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise BadRequest("no <xml> root")
    return root


def parse_wechat_xml(xml: str) -> BaseMessage:
    """A WeChat message or event from its (decrypted) XML.

    Raises:
        BadRequest: not XML, hostile XML, or a required field missing or malformed.
    """
    root = _xml_fields(xml)
    for name in _REQUIRED:
        if not isinstance(root.get(name), str) or not root[name].strip():
            raise BadRequest(f"missing or malformed {name}")
    if not root["CreateTime"].strip().isdigit():
        raise BadRequest("malformed CreateTime")
    kind = root["MsgType"].lower()
    # an empty or blank text keeps no Content after parsing: it is still a message, answered politely
    needed = {"text": ("MsgId",), "event": ("Event",)}.get(kind, ())
    for name in needed:
        if not isinstance(root.get(name), str):
            raise BadRequest(f"{kind} message without {name}")
    if kind == "text" and not root["MsgId"].strip().isdigit():
        raise BadRequest("malformed MsgId")
    try:
        return parse_message(xml)
    except Exception as e:
        raise BadRequest(f"unreadable message: {e}") from None


def _cdata_safe(text: str) -> str:
    # wechatpy writes the content into a CDATA section verbatim; "]]>" would end it, and
    # control characters are not allowed in XML at all
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return text.replace("]]>", "]]]]><![CDATA[>")


# --- the channel --------------------------------------------------------------


@dataclass
class _Turn:
    """One customer message and the bot's answer to it, shared by WeChat's retries of that message."""

    sender: str
    created: float
    task: asyncio.Task[list[str]] = field(init=False)
    waiting: int = 0  # requests currently waiting for the answer to reply passively
    delivered: str | None = None  # "passive" or "later", once decided
    passive: str | None = None  # the passive reply, repeated to a retry after it


class WeChatInput(InputChannel):
    """WeChat Official Account input channel (``bot.channels.wechat.WeChatInput`` in credentials.yml)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        return cls(WeChatSettings.load(credentials))

    def __init__(self, settings: WeChatSettings, api: WeChatAPI | None = None) -> None:
        self.settings = settings
        self.reply_deadline = settings.reply_deadline
        self.api = api or WeChatAPI(settings.app_id, settings.app_secret, settings.api_base)
        self.crypto = (
            WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
            if settings.token and settings.encoding_aes_key
            else None
        )
        self._turns: OrderedDict[str, _Turn] = OrderedDict()
        self._menus: OrderedDict[str, list[str]] = OrderedDict()
        self._background: set[asyncio.Task[Any]] = set()
        if not settings.configured:
            logger.warning(
                "WeChat channel loaded without WECHAT_TOKEN: it answers 503 until the token is set "
                "(docs/channels.md#wechat-official-account)"
            )
        elif not settings.can_send:
            logger.warning(
                "WeChat channel without WECHAT_APP_ID/WECHAT_APP_SECRET: answers later than %.1f s "
                "cannot be delivered (customer-service API in local mode)",
                self.reply_deadline,
            )

    # --- Rasa ---------------------------------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        gateway.register_channel(self.name(), self)
        webhook = Blueprint("wechat_webhook", __name__)

        @webhook.listener("before_server_start")
        async def bind_gateway(app: Sanic, _: Any) -> None:
            gateway.bind(app)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.settings.configured else "not configured"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            refused = self._refuse(request)
            if refused is not None:
                return refused
            echostr = request.args.get("echostr")
            if not echostr:
                return response.text("missing echostr", status=400)
            return response.text(echostr, content_type="text/plain")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            arrived = time.monotonic()
            refused = self._refuse(request)
            if refused is not None:
                return refused
            try:
                message = self._read(request)
            except InvalidSignatureException:
                logger.warning("WeChat message with a bad msg_signature refused")
                return response.text("invalid signature", status=403)
            except BadRequest as e:
                logger.warning("WeChat request refused: %s", e)
                return response.text("bad request", status=400)
            answer = await self._answer(message, on_new_message, arrived)
            return self._reply(request, message, answer)

        @webhook.listener("after_server_stop")
        async def close_client(*_: Any) -> None:
            await self.api.close()

        return webhook

    # --- Outbound (the gateway's way to reach a WeChat customer) -------------
    async def deliver(self, recipient_id: str, messages: list[Message]) -> None:
        """Send bot messages to a customer through the customer-service API."""
        for packet in self._prepare(recipient_id, messages):
            await self.api.send_text(recipient_id, packet)

    async def agent_status(self, recipient_id: str, agent: str | None) -> None:
        """Tell the customer a human agent took over, or that the assistant is back."""
        self._menus.pop(recipient_id, None)  # the bot's last menu no longer applies
        # the notice in the customer's script; the person's name as it is written
        notice = gateway.in_customer_script(recipient_id, AGENT_JOINED if agent is not None else BOT_BACK)
        text = notice.format(agent=agent) if agent is not None else notice
        try:
            await self.api.send_text(recipient_id, text)
        except Exception:  # the hand-over itself stands; the notice is a courtesy
            logger.exception("could not tell %s about the agent change", recipient_id)

    # --- requests -----------------------------------------------------------
    def _refuse(self, request: Request) -> HTTPResponse | None:
        """The response to a request that is not WeChat's, or None when it is signed and fresh."""
        if not self.settings.configured:
            logger.error("WeChat request refused: WECHAT_TOKEN is not set (docs/channels.md#wechat-official-account)")
            return response.text("WeChat channel not configured", status=503)
        args = request.args
        signature, timestamp, nonce = (args.get(k) or "" for k in ("signature", "timestamp", "nonce"))
        try:
            check_signature(self.settings.token, signature, timestamp, nonce)
            fresh = abs(time.time() - int(timestamp)) <= MAX_CLOCK_SKEW
        except (InvalidSignatureException, ValueError):
            logger.warning("WeChat request with a bad signature refused")
            return response.text("invalid signature", status=403)
        if not fresh:
            logger.warning("WeChat request with a stale timestamp refused (is the server clock right?)")
            return response.text("stale timestamp", status=403)
        return None

    def _read(self, request: Request) -> BaseMessage:
        body = request.body or b""
        if len(body) > MAX_BODY:
            raise BadRequest(f"body of {len(body)} bytes")
        try:
            xml = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("body is not UTF-8") from None
        if request.args.get("encrypt_type", "raw") == "aes":
            xml = self._decrypt(request, xml)
        return parse_wechat_xml(xml)

    def _decrypt(self, request: Request, xml: str) -> str:
        if self.crypto is None:
            raise BadRequest("safe-mode message, but WECHAT_ENCODING_AES_KEY is not set")
        envelope = _xml_fields(xml)
        if not isinstance(envelope.get("Encrypt"), str):
            raise BadRequest("safe-mode message without Encrypt")
        args = request.args
        try:
            return self.crypto.decrypt_message(
                envelope, args.get("msg_signature") or "", args.get("timestamp"), args.get("nonce")
            )
        except InvalidSignatureException:
            raise
        except Exception as e:  # wrong AppID, bad base64, bad padding: not our sender
            raise BadRequest(f"cannot decrypt: {type(e).__name__}") from None

    def _reply(self, request: Request, message: BaseMessage, text: str | None) -> HTTPResponse:
        if not text:
            # "success": WeChat shows nothing and does not retry
            return response.text("success", content_type="text/plain")
        xml = TextReply(message=message, content=_cdata_safe(text)).render()
        if self.crypto is not None and request.args.get("encrypt_type") == "aes":
            xml = self.crypto.encrypt_message(xml, request.args.get("nonce"), request.args.get("timestamp"))
        return response.text(xml, content_type="application/xml")

    # --- answers ------------------------------------------------------------
    async def _answer(
        self, message: BaseMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]], arrived: float
    ) -> str | None:
        sender = message.source
        if message.type == "text" or (message.type == "voice" and (message.recognition or "").strip()):
            text = (message.content or "") if message.type == "text" else message.recognition
            key = f"msg:{sender}:{message.id}"
            return await self._turn(key, sender, text, str(message.id), on_new_message, arrived)
        if message.type == "event":
            if message.event in ("subscribe", "subscribe_scan"):
                key = f"event:{sender}:{message.time}"
                return await self._turn(key, sender, GREETING, None, on_new_message, arrived)
            if message.event == "unsubscribe":
                self._menus.pop(sender, None)
            return None  # menu clicks, location reports, ...: nothing to say
        return gateway.in_customer_script(sender, TEXT_ONLY)  # image, voice without recognition, video, ...

    async def _turn(
        self,
        key: str,
        sender: str,
        text: str,
        message_id: str | None,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        arrived: float,
    ) -> str | None:
        """The passive reply to one message: the bot's answer, an acknowledgement, or None ("success")."""
        now = time.monotonic()
        self._forget_old(now)
        turn = self._turns.get(key)
        if turn is None:
            turn = _Turn(sender=sender, created=now)
            payload = choose(text, self._menus.get(sender, []))
            if payload is not None:
                logger.debug("WeChat menu choice -> %s", payload)
                text = payload
            # a menu number stands for a payload this channel offered: the only commands WeChat sends
            turn.task = asyncio.create_task(
                self._run(sender, text, message_id, on_new_message, trusted=payload is not None)
            )
            turn.task.add_done_callback(functools.partial(self._settle, turn))
            self._turns[key] = turn
        else:
            logger.info("WeChat retry of %s: no new bot turn", key)
        remaining = max(self.reply_deadline - (time.monotonic() - arrived), 0.0)
        turn.waiting += 1
        try:
            await asyncio.wait({turn.task}, timeout=remaining)
        except asyncio.CancelledError:  # WeChat hung up: the answer goes out later, unless a retry waits
            turn.waiting -= 1
            self._settle(turn)
            raise
        turn.waiting -= 1
        if not turn.task.done():
            return gateway.in_customer_script(sender, PLEASE_WAIT)  # _settle sends the answer once the bot has it
        if turn.task.cancelled():  # the server is shutting down
            return None
        if turn.delivered is None:
            packets = turn.task.result()
            turn.delivered, turn.passive = "passive", (packets[0] if packets else None)
            if packets[1:]:
                self._spawn(self._send_later(sender, packets[1:], REST_DELAY))
        return turn.passive if turn.delivered == "passive" else None

    def _settle(self, turn: _Turn, _: Any = None) -> None:
        # Called when the bot is done and when a waiting request goes away: with nobody left
        # to reply passively, the answer goes through the customer-service API.
        if turn.delivered or turn.waiting or not turn.task.done() or turn.task.cancelled():
            return
        turn.delivered = "later"
        packets = turn.task.result()
        if packets:
            self._spawn(self._send_later(turn.sender, packets))

    async def _run(
        self,
        sender: str,
        text: str,
        message_id: str | None,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        trusted: bool = False,
    ) -> list[str]:
        """One bot turn through the gateway; the answer as WeChat texts."""
        collector = CollectingOutputChannel()
        try:
            await gateway.receive(
                Incoming(
                    channel=self.name(), sender_id=sender, text=text, message_id=message_id, trusted_payload=trusted
                ),
                on_new_message,
                collector,
            )
        except Exception:
            logger.exception("the bot failed on a WeChat message from %s", sender)
            return [gateway.in_customer_script(sender, SORRY)]
        return self._prepare(sender, collector.messages)

    def _prepare(self, sender: str, messages: list[Message]) -> list[str]:
        """The bot's messages as WeChat texts; their buttons become the customer's current menu."""
        texts, menu = render(messages, gateway.in_customer_script(sender, MENU_HINT))
        if texts:
            self._menus[sender] = menu
            self._menus.move_to_end(sender)
            while len(self._menus) > MAX_MENUS:
                self._menus.popitem(last=False)
        return pack_texts(texts)

    async def _send_later(self, sender: str, packets: list[str], delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        for packet in packets:
            try:
                await self.api.send_text(sender, packet)
            except Exception:
                logger.exception("could not deliver an answer to %s through the customer-service API", sender)
                return

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)  # keep a reference until it is done
        task.add_done_callback(self._background.discard)

    def _forget_old(self, now: float) -> None:
        while self._turns:
            key, turn = next(iter(self._turns.items()))
            expired = now - turn.created > TURN_TTL and turn.task.done()
            if not expired and len(self._turns) <= MAX_TURNS:
                break
            del self._turns[key]
