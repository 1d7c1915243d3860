"""Replies in the script the customer writes: Traditional for a customer who writes Traditional.

The domain's responses and the seed's FAQ answers are Simplified. The NLU reads both scripts
(it normalises to Simplified); what the customer reads is converted here, on the way out, by
the channel gateway (:mod:`bot.channels.gateway`):

* a message *tells* the script when it has more characters of one script than of the other
  (:func:`banktext.script_of`); digits, emoji, "ok", "好的", a phone number and a button press
  (a ``/command``) do not tell, and the conversation keeps the script it had;
* the script in force is recorded in the metadata of each customer message
  (:data:`SCRIPT_KEY`), so it is in the stored conversation: a restarted server, or another
  server of the cluster, carries it on (:func:`recorded_script`);
* the text and the button titles are converted, with Taiwan phrasing by default
  (``REPLY_TRADITIONAL=tw|hk|t``, :func:`bot.settings.reply_traditional`); button payloads
  never (they are commands), nor URLs. Digits and placeholders are ASCII, which OpenCC leaves
  as they are.
"""

from __future__ import annotations

import re
from collections.abc import Reversible
from typing import Any

from rasa.shared.core.events import UserUttered

from banktext import script_of, to_traditional
from banktext.script import SIMPLIFIED, TRADITIONAL
from bot.channels import security

__all__ = ["SCRIPT_KEY", "SIMPLIFIED", "TRADITIONAL", "in_script", "recorded_script", "told_by"]

#: The customer message's metadata key holding the script the replies to it are written in.
SCRIPT_KEY = "reply_script"
#: Left as written inside a converted text: web addresses (their path may hold anything).
_KEEP = re.compile(r"(https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+)")


def told_by(text: Any) -> str | None:
    """The script a customer's message tells (``traditional``/``simplified``), or None.

    A button press or any other ``/command`` never tells: its entity values are the bot's own
    (Simplified) words, not the customer's."""
    if not isinstance(text, str) or security.looks_like_a_command(text):
        return None
    return script_of(text)


def recorded_script(events: Reversible[Any]) -> str | None:
    """The script of a stored conversation: as its latest customer message recorded it, or as
    the latest message that tells was written (conversations stored before the record)."""
    for event in reversed(events):
        if isinstance(event, UserUttered):
            recorded = (event.metadata or {}).get(SCRIPT_KEY)
            if recorded in (TRADITIONAL, SIMPLIFIED):
                return recorded
            told = told_by(event.text)
            if told:
                return told
    return None


def _traditional(text: str, variant: str) -> str:
    if "://" not in text:
        return to_traditional(text, variant)
    return "".join(p if i % 2 else to_traditional(p, variant) for i, p in enumerate(_KEEP.split(text)))


def in_script(message: dict[str, Any], script: str | None, variant: str = "tw") -> dict[str, Any]:
    """``message`` (a Rasa bot message) as a customer writing ``script`` reads it.

    Only Traditional changes anything: the text and the titles of buttons and quick replies
    are converted; payloads, images and custom payloads are left as they are."""
    if script != TRADITIONAL:
        return message
    converted = dict(message)
    if isinstance(converted.get("text"), str):
        converted["text"] = _traditional(converted["text"], variant)
    for key in ("buttons", "quick_replies"):
        if isinstance(converted.get(key), list):
            converted[key] = [
                (
                    {**b, "title": _traditional(b["title"], variant)}
                    if isinstance(b, dict) and isinstance(b.get("title"), str)
                    else b
                )
                for b in converted[key]
            ]
    return converted
