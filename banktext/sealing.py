"""Seal a call-back number for staff: encrypted at rest, readable only where the key is.

A customer who files a complaint may give a number to be called back on. Everywhere else
the number is masked (the tracker store, logs, reports, transcripts); the bank still has to
call, so the channel gateway seals the number it masked (:func:`seal`), the action server
stores only the sealed form with the conversation, and the staff console opens it
(:func:`unseal`) next to the complaint ticket.

The key comes from the environment, ``CALLBACK_NUMBER_KEY``: a Fernet key (32 random bytes,
URL-safe base64, padding optional; ``make run`` creates one in ``var/secrets.env``). Several keys separated by
commas rotate them: the first seals, every one opens. Without a key nothing is sealed and the
console shows the masked number only. Fernet (AES-128-CBC with an HMAC-SHA256 tag, from
``cryptography``, installed in both environments) is imported lazily, like ``opencc`` in
:mod:`banktext.script`, so the rest of the package stays standard library.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

__all__ = ["KEY_ENV", "can_seal", "seal", "unseal"]

logger = logging.getLogger(__name__)

KEY_ENV = "CALLBACK_NUMBER_KEY"
#: Fernet tokens of an 11-15 digit number are about 120 characters; anything far longer is not one.
MAX_SEALED_CHARS = 512


def _keys() -> Any | None:
    """The MultiFernet of the configured keys, or None when none is set or a key is malformed."""
    return _keys_from(os.environ.get(KEY_ENV, ""))


@lru_cache(maxsize=4)
def _keys_from(setting: str) -> Any | None:
    """Built once per value of the setting (the environment is read on every call, so a rotated key counts)."""
    names = [k.strip() for k in setting.split(",") if k.strip()]
    if not names:
        return None
    from cryptography.fernet import Fernet, MultiFernet

    try:  # the base64 padding may have been left off (a shell's `read` drops a trailing "=")
        return MultiFernet([Fernet(key + "=" * (-len(key) % 4)) for key in names])
    except (ValueError, UnicodeEncodeError):
        logger.error("%s is not a list of Fernet keys (32 bytes, URL-safe base64): numbers stay masked", KEY_ENV)
        return None


def can_seal() -> bool:
    """Whether this process has a usable key."""
    return _keys() is not None


def seal(digits: str) -> str | None:
    """``digits`` encrypted with the first key (a URL-safe ASCII token), or None without a key."""
    keys = _keys()
    return keys.encrypt(digits.encode("ascii")).decode("ascii") if keys is not None else None


def unseal(token: str | None) -> str | None:
    """The number sealed in ``token``, or None: no key, another key, a forged or damaged token."""
    keys = _keys()
    if keys is None or not token or len(token) > MAX_SEALED_CHARS:
        return None
    from cryptography.fernet import InvalidToken

    try:
        return keys.decrypt(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, ValueError):
        return None
