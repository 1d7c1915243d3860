"""The WeChat Official Account HTTP API, as far as the assistant uses it: customer-service text messages.

wechatpy's own ``WeChatClient`` is built on ``requests`` and would block the Rasa
server's event loop for the length of every call, so this small client speaks the two
endpoints it needs with aiohttp: ``GET /cgi-bin/token`` (an access token, cached until
shortly before it expires) and ``POST /cgi-bin/message/custom/send``.

Without AppID and AppSecret the client runs in local mode: it logs what it would have
sent and keeps it in :attr:`WeChatAPI.outbox`, so the channel runs without a WeChat
account.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

# 40001: invalid token, 40014: malformed token, 42001: token expired -> fetch a new one once.
TOKEN_ERRORS = {40001, 40014, 42001}
# Refresh this long before WeChat's stated expiry, so a token never dies in flight.
TOKEN_MARGIN = 300.0


class WeChatAPIError(Exception):
    """WeChat answered with a non-zero ``errcode``."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatAPI:
    """Sends customer-service messages; one instance per channel, shared by all conversations."""

    def __init__(self, app_id: str, app_secret: str, api_base: str, timeout: float = 10.0) -> None:
        self.app_id = app_id
        self._secret = app_secret
        self.api_base = api_base.rstrip("/")
        self.local = not (app_id and app_secret)
        self.outbox: list[tuple[str, str]] = []  # local mode: (openid, text) it would have sent
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock: asyncio.Lock | None = None

    async def send_text(self, openid: str, content: str) -> None:
        """Send one text message to ``openid`` (the customer must have written within 48 hours).

        Raises:
            WeChatAPIError: WeChat refused the message (after one token refresh if it was the token).
            aiohttp.ClientError: WeChat could not be reached.
            asyncio.TimeoutError: WeChat did not answer in time.
        """
        if self.local:
            logger.info("WeChat local mode, not sent to %s: %s", openid, content)
            self.outbox.append((openid, content))
            return
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        await self._call("cgi-bin/message/custom/send", body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- internals ----------------------------------------------------------
    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self._access_token()
            # WeChat shows \u escapes literally in some places: send the UTF-8 text itself.
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            async with self._http().post(
                f"{self.api_base}/{path}",
                params={"access_token": token},
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
            ) as response:
                answer = await _json(response)
            errcode = int(answer.get("errcode") or 0)
            if errcode == 0:
                return answer
            if errcode in TOKEN_ERRORS and attempt == 1:
                logger.info("WeChat rejected the access token (%s), fetching a new one", errcode)
                self._forget_token(token)
                continue
            raise WeChatAPIError(errcode, str(answer.get("errmsg", "")))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _access_token(self) -> str:
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:  # one fetch at a time: each fetch invalidates the previous token
            if self._token and time.monotonic() < self._token_expires:
                return self._token
            params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
            async with self._http().get(f"{self.api_base}/cgi-bin/token", params=params) as response:
                answer = await _json(response)
            if not answer.get("access_token"):
                raise WeChatAPIError(int(answer.get("errcode") or -1), str(answer.get("errmsg", "no access_token")))
            lifetime = float(answer.get("expires_in") or 7200)
            self._token = str(answer["access_token"])
            self._token_expires = time.monotonic() + max(lifetime - TOKEN_MARGIN, lifetime / 2)
            return self._token

    def _forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None
            self._token_expires = 0.0

    def _http(self) -> aiohttp.ClientSession:
        # created on first use, inside the server's running event loop
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    # not raise_for_status(): its message carries the URL, and with it the secret or the token
    if response.status != 200:
        raise WeChatAPIError(-response.status, f"HTTP {response.status} from {response.url.path}")
    answer = await response.json(content_type=None)
    if not isinstance(answer, dict):
        raise WeChatAPIError(-1, f"unexpected answer from {response.url.path}")
    return answer
