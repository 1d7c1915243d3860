"""What a customer may send: text, the project's own buttons, and ids the server issued.

Rasa reads any message that starts with ``/`` as a command (``/intent{"entity": ...}``,
``/restart``, ``/session_start``). Typed by a customer, such a message could skip the
risk questionnaire, make the bot repeat invented text in its own voice, or wipe the
conversation. So a payload reaches the bot only when

* the server signed it for this conversation when it sent the button (HMAC-SHA256 with
  the channel secret; the page sends the signature back with the click), or
* the channel produced it itself (WeChat maps a menu number to the payload it offered), or
* it is the greeting a page or WeChat sends when a conversation opens (``/greet``).

Anything else that starts with ``/`` never reaches the bot: the gateway answers that it is not
something the assistant can act on (``utter_typed_command``).

The same secret signs the website chat's session ids: a page can resume only a session
the server issued to it, never choose one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import unicodedata
import uuid
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

SIGNATURE_KEY = "payload_sig"
_SIG_CHARS = 32  # 128 bits of HMAC-SHA256, hex
_SESSION = re.compile(r"([0-9a-f]{32})\.([0-9a-f]{32})")
#: What a page or WeChat sends when a conversation opens.
OPENING_PAYLOADS = frozenset({"/greet"})


@lru_cache(maxsize=1)
def _secret() -> bytes:
    secret = os.environ.get("CHANNEL_SECRET", "")
    if len(secret) < 16:
        # one process, one secret: fine for `make run`; instances behind a load balancer share CHANNEL_SECRET
        logger.warning("CHANNEL_SECRET is not set: button signatures and web sessions last only this process")
        return secrets.token_bytes(32)
    return secret.encode()


def _mac(*parts: str) -> str:
    message = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()[:_SIG_CHARS]


def sign_payload(conversation_id: str, payload: str) -> str:
    """The signature of a button payload offered to one conversation."""
    return _mac("payload", conversation_id, payload)


def payload_signed(conversation_id: str, payload: str, signature: Any) -> bool:
    return isinstance(signature, str) and hmac.compare_digest(signature, sign_payload(conversation_id, payload))


def sign_buttons(conversation_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """A bot message whose buttons (or quick replies) each carry the signature of their payload."""
    for key in ("buttons", "quick_replies"):
        buttons = message.get(key)
        if isinstance(buttons, list):
            message[key] = [
                (
                    {**b, SIGNATURE_KEY: sign_payload(conversation_id, b["payload"])}
                    if isinstance(b, dict) and isinstance(b.get("payload"), str)
                    else b
                )
                for b in buttons
            ]
    return message


def looks_like_a_command(text: str) -> bool:
    """Whether Rasa would read ``text`` as a command: it starts with "/" once the NLU has
    normalised it (a full-width "／" becomes "/" too)."""
    return unicodedata.normalize("NFKC", text or "").strip().startswith("/")


def is_our_command(conversation_id: str, text: str, metadata: dict[str, Any], trusted: bool = False) -> bool:
    """Whether a command-shaped message is one of ours: channel-produced, signed, or the opening greeting."""
    stripped = text.strip()
    return (
        trusted
        or stripped in OPENING_PAYLOADS
        or payload_signed(conversation_id, stripped, metadata.get(SIGNATURE_KEY))
    )


# --- website chat session ids ------------------------------------------------------------


def issue_session() -> tuple[str, str]:
    """A new conversation id and the signed token the page keeps to resume it."""
    conversation_id = uuid.uuid4().hex
    return conversation_id, f"{conversation_id}.{_mac('session', conversation_id)}"


def session_from_token(token: Any) -> str | None:
    """The conversation id of a token this server issued, or None (unknown, forged or chosen)."""
    if not isinstance(token, str):
        return None
    match = _SESSION.fullmatch(token)
    if not match or not hmac.compare_digest(match.group(2), _mac("session", match.group(1))):
        return None
    return match.group(1)
