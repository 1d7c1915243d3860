"""A stand-in for WeChat on loopback, for the WeChat channel's tests.

It plays both of WeChat's parts over real HTTP:

* the message push: it builds WeChat's XML callbacks, signs them (and in safe mode
  encrypts them) and POSTs them to the channel, then reads and checks the reply;
* the Official Account API: ``GET /cgi-bin/token`` and
  ``POST /cgi-bin/message/custom/send``, recording every customer-service message.

The safe-mode cryptography is written here from WeChat's documentation (AES-256-CBC,
IV = first 16 key bytes, 32-byte PKCS#7, random(16) + length + message + AppID, SHA-1
signature over the sorted strings) rather than borrowed from wechatpy, so the channel's
use of wechatpy is checked against an independent implementation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import socket
import struct
import time
from typing import Any

import aiohttp
import xmltodict
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ACCOUNT = "gh_yunlan_bank"  # the Official Account's own id (ToUserName of incoming messages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def new_aes_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii").rstrip("=")


def cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


def message_xml(openid: str, msg_type: str, create_time: int | None = None, **fields: Any) -> str:
    """A WeChat callback as WeChat writes it; ``fields`` in order (str in CDATA, int bare)."""
    body = [
        f"<ToUserName>{cdata(ACCOUNT)}</ToUserName>",
        f"<FromUserName>{cdata(openid)}</FromUserName>",
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
        f"<MsgType>{cdata(msg_type)}</MsgType>",
    ]
    for name, value in fields.items():
        body.append(f"<{name}>{cdata(value) if isinstance(value, str) else value}</{name}>")
    return "<xml>" + "".join(body) + "</xml>"


def text_xml(openid: str, content: str, msg_id: int) -> str:
    return message_xml(openid, "text", Content=content, MsgId=msg_id)


def event_xml(openid: str, event: str, create_time: int | None = None) -> str:
    return message_xml(openid, "event", create_time, Event=event, EventKey="")


class FakeWeChat:
    """WeChat's servers, as far as an Official Account's own server sees them."""

    def __init__(self, token: str, app_id: str, app_secret: str, aes_key: str) -> None:
        self.token, self.app_id, self.app_secret, self.aes_key = token, app_id, app_secret, aes_key
        self.key = base64.b64decode(aes_key + "=")
        self.sent: list[dict[str, Any]] = []  # customer-service messages: touser, content, raw body
        self.token_requests = 0
        self.reject_next_token = False  # the next custom/send answers 40001 (token invalidated)
        self._tokens: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""

    # --- lifecycle ----------------------------------------------------------
    async def start(self) -> FakeWeChat:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the API the channel calls ------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        q = request.query
        if q.get("grant_type") != "client_credential" or q.get("appid") != self.app_id:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        if q.get("secret") != self.app_secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        token = secrets.token_hex(16)
        self._tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 7200})

    async def _custom_send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        if self.reject_next_token and token in self._tokens:
            self.reject_next_token = False
            self._tokens.discard(token)
        if token not in self._tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
        raw = await request.read()
        body = await request.json()
        if body.get("msgtype") != "text" or not isinstance(body.get("text", {}).get("content"), str):
            return web.json_response({"errcode": 40008, "errmsg": "invalid message type"})
        self.sent.append({"touser": body["touser"], "content": body["text"]["content"], "raw": raw})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def sent_to(self, openid: str) -> list[str]:
        return [m["content"] for m in self.sent if m["touser"] == openid]

    # --- the push to the channel --------------------------------------------
    def signed(self, **extra: str) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        return {"signature": sign(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **extra}

    async def get(self, url: str, params: dict[str, str]) -> tuple[int, str, str]:
        assert self._http is not None
        async with self._http.get(url, params=params) as r:
            return r.status, r.headers.get("Content-Type", ""), await r.text()

    async def post(
        self, url: str, xml: str | bytes, aes: bool = False, params: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """POST a callback the way WeChat does; the raw status and body of the channel's answer."""
        assert self._http is not None
        query = self.signed()
        body = xml if isinstance(xml, bytes) else xml.encode("utf-8")
        if aes:
            encrypt = self.encrypt(body)
            signature = sign(self.token, query["timestamp"], query["nonce"], encrypt)
            query.update(encrypt_type="aes", msg_signature=signature)
            body = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>".encode()
        query.update(params or {})
        async with self._http.post(url, params=query, data=body, headers={"Content-Type": "text/xml"}) as r:
            return r.status, await r.text()

    def read_reply(self, body: str, aes: bool = False) -> dict[str, Any]:
        """The fields of a passive reply; in safe mode its signature is checked and it is decrypted."""
        if aes:
            envelope = xmltodict.parse(body)["xml"]
            expected = sign(self.token, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"])
            assert envelope["MsgSignature"] == expected, "reply signature does not verify"
            body = self.decrypt(envelope["Encrypt"])
        return xmltodict.parse(body)["xml"]

    # --- safe mode, from WeChat's documentation -----------------------------
    def encrypt(self, message: bytes) -> str:
        plain = os.urandom(16) + struct.pack(">I", len(message)) + message + self.app_id.encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> str:
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
        plain = plain[: -plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        assert plain[20 + length :].decode() == self.app_id, "reply encrypted for another AppID"
        return plain[20 : 20 + length].decode("utf-8")


async def until(condition, timeout: float = 60.0, step: float = 0.1) -> None:
    """Wait until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


class SanicOnLoopback:
    """A Sanic app served on a free loopback port inside the running event loop (real HTTP)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    async def start(self) -> SanicOnLoopback:
        from sanic import Sanic

        # Sanic 21.12 rewrites its own methods at the first start-up; a second app in the
        # same process can only start in test mode (as sanic-testing does it)
        Sanic.test_mode = True
        server = await self.app.create_server(
            host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
        )
        # create_server() already listens (it awaits the AsyncioServer); run the listeners
        await server.startup()
        await server.before_start()
        await server.after_start()
        self._server = server
        return self

    async def stop(self) -> None:
        from sanic import Sanic

        if self._server is not None:
            await self._server.before_stop()
            self._server.close()
            await self._server.wait_closed()
            await self._server.after_stop()
        Sanic._app_registry.pop(self.app.name, None)  # the next module may build an app of the same name
