"""Secrets and URLs of the Rasa-server side, read from the environment in one place.

``credentials.yml`` cannot hold secrets safely, and Rasa's ``${VAR}`` expansion there
fails on an unset variable, so the channels read their settings here: environment
variables with defaults, optionally overridden by the values of their credentials
section.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

WECHAT_API_BASE = "https://api.weixin.qq.com"
# WeChat drops the connection and retries when it has no answer after 5 s; keep a
# margin for the network and the reply's own encryption.
WECHAT_REPLY_DEADLINE = 4.0


@dataclass(frozen=True)
class WeChatSettings:
    """How the WeChat Official Account channel reaches WeChat and proves who it is.

    Attributes:
        token: the server-configuration token (signs every request from WeChat).
        app_id: the account's AppID (customer-service API, safe-mode encryption).
        app_secret: the account's AppSecret (customer-service API access token).
        encoding_aes_key: the 43-character EncodingAESKey (safe mode); empty for plaintext.
        api_base: the WeChat API's base URL (a fake server's in tests).
        reply_deadline: seconds the channel waits for the bot before acknowledging
            and delivering the answer through the customer-service API instead.
    """

    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    encoding_aes_key: str = ""
    api_base: str = WECHAT_API_BASE
    reply_deadline: float = WECHAT_REPLY_DEADLINE

    # the environment variable of each setting
    ENV: ClassVar[dict[str, str]] = {
        "token": "WECHAT_TOKEN",
        "app_id": "WECHAT_APP_ID",
        "app_secret": "WECHAT_APP_SECRET",
        "encoding_aes_key": "WECHAT_ENCODING_AES_KEY",
        "api_base": "WECHAT_API_BASE",
        "reply_deadline": "WECHAT_REPLY_DEADLINE",
    }

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> WeChatSettings:
        """The settings from the environment, each overridden by a non-empty value in ``overrides``.

        Raises:
            ValueError: when a value is set but unusable (a malformed AES key, a bad deadline).
        """
        environ = os.environ if environ is None else environ
        overrides = overrides or {}
        unknown = set(overrides) - set(cls.ENV)
        if unknown:
            raise ValueError(f"unknown WeChat settings in credentials.yml: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = overrides.get(f.name)
            if value is None or value == "":
                value = environ.get(cls.ENV[f.name], "")
            if value is None or value == "":
                continue
            if f.name == "reply_deadline":
                try:
                    values[f.name] = float(value)
                except (TypeError, ValueError):
                    raise ValueError(f"WECHAT_REPLY_DEADLINE must be a number of seconds, not {value!r}") from None
            else:
                values[f.name] = str(value).strip()
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Fail at start-up, not at the first message, on values WeChat would reject."""
        if self.encoding_aes_key:
            try:
                key = base64.b64decode(self.encoding_aes_key + "=", validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if len(self.encoding_aes_key) != 43 or len(key) != 32:
                raise ValueError("WECHAT_ENCODING_AES_KEY must be the 43-character key shown by WeChat")
            if not self.app_id:
                raise ValueError("safe mode (WECHAT_ENCODING_AES_KEY) also needs WECHAT_APP_ID")
        if not self.reply_deadline > 0:
            raise ValueError("WECHAT_REPLY_DEADLINE must be a positive number of seconds")
        if self.reply_deadline >= 5:
            logger.warning(
                "WECHAT_REPLY_DEADLINE=%s: WeChat gives up after 5 s and retries; answers will come late",
                self.reply_deadline,
            )
        if not self.api_base.startswith(("http://", "https://")):
            raise ValueError("WECHAT_API_BASE must be an http(s) URL")

    @property
    def configured(self) -> bool:
        """Whether the channel can verify WeChat's requests at all (it needs the token)."""
        return bool(self.token)

    @property
    def can_send(self) -> bool:
        """Whether the customer-service API can be used (it needs AppID and AppSecret)."""
        return bool(self.app_id and self.app_secret)


#: Which Traditional the replies to a Traditional-writing customer use: ``tw`` (Taiwan
#: characters and phrasing, 軟體, 資訊), ``hk`` (Hong Kong characters) or ``t`` (plain OpenCC).
REPLY_TRADITIONAL_ENV = "REPLY_TRADITIONAL"
REPLY_TRADITIONAL_DEFAULT = "tw"
REPLY_TRADITIONAL_VARIANTS = ("tw", "hk", "t")


def reply_traditional(environ: Mapping[str, str] | None = None) -> str:
    """The Traditional variant of replies (``REPLY_TRADITIONAL``); an unknown value is logged and ``tw`` used."""
    environ = os.environ if environ is None else environ
    value = environ.get(REPLY_TRADITIONAL_ENV, "").strip().lower() or REPLY_TRADITIONAL_DEFAULT
    if value not in REPLY_TRADITIONAL_VARIANTS:
        logger.error(
            "%s=%r is none of %s: replies use %s",
            REPLY_TRADITIONAL_ENV,
            value,
            "|".join(REPLY_TRADITIONAL_VARIANTS),
            REPLY_TRADITIONAL_DEFAULT,
        )
        return REPLY_TRADITIONAL_DEFAULT
    return value
