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
* the text is converted with Taiwan phrasing by default (``REPLY_TRADITIONAL=tw|hk|t``,
  :func:`bot.settings.reply_traditional`: 软件 → 軟體, 打印 → 列印), except the bank's own names
  and words whose Taiwan phrase means something else at a bank, which are converted character
  by character (:func:`unphrased`): a product 【云澜借记卡】 stays 【雲瀾借記卡】, not
  簽帳金融卡, so the customer can ask for it by the name they read, and 注销 (cancelling a
  card) does not become 登出 (logging out);
* button titles are converted character by character: a customer who types the label they
  read is understood as if they had pressed it (the NLU reads 借記卡 as 借记卡, not 簽帳金融卡);
* button payloads are never converted (they are commands), nor URLs. Digits and placeholders
  are ASCII, which OpenCC leaves as they are.
"""

from __future__ import annotations

import re
from collections.abc import Reversible
from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa.shared.core.events import UserUttered

from banktext import script_of, to_simplified, to_traditional
from banktext.script import SIMPLIFIED, TRADITIONAL
from bot.channels import security

__all__ = ["SCRIPT_KEY", "SIMPLIFIED", "TRADITIONAL", "in_script", "recorded_script", "told_by"]

#: The customer message's metadata key holding the script the replies to it are written in.
SCRIPT_KEY = "reply_script"
#: The bank's vocabulary, generated from the knowledge seed: product names and product words.
BANK_WORDS = Path(__file__).resolve().parents[1] / "resources" / "jieba" / "userdict.txt"
#: Words whose Taiwan phrase means something else at a bank: 注销 a card is cancelling it (註銷),
#: OpenCC's 登出 is logging out.
UNPHRASED_WORDS = ("注销",)
#: A web address: left exactly as written.
_URL = r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"
#: Names converted character by character: a product in 【】 and a branch ("…天府软件园支行").
_NAMES = r"【[^】\n]{1,40}】|[\u4e00-\u9fff]{1,16}?支行"


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


@lru_cache(maxsize=1)
def unphrased() -> re.Pattern[str]:
    """What a reply's text keeps from Taiwan phrasing: group 1 a web address (left as it is),
    group 2 a name or word converted character by character: names in 【】, branches, the words
    of the bank's dictionary that a Taiwan phrase would replace (借记卡, 动账短信), and
    :data:`UNPHRASED_WORDS`."""
    words = set(UNPHRASED_WORDS)
    try:
        lines = BANK_WORDS.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        word = line.split()[0] if line.strip() and not line.startswith("#") else ""
        if word and to_simplified(to_traditional(word)) != word:
            words.add(word)
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(f"({_URL})|({_NAMES}|{alternatives})")


def _traditional(text: str, variant: str) -> str:
    pieces, at = [], 0
    for match in unphrased().finditer(text):
        pieces.append(to_traditional(text[at : match.start()], variant))
        pieces.append(match.group() if match.group(1) else to_traditional(match.group(), variant, phrases=False))
        at = match.end()
    pieces.append(to_traditional(text[at:], variant))
    return "".join(pieces)


def in_script(message: dict[str, Any], script: str | None, variant: str = "tw") -> dict[str, Any]:
    """``message`` (a Rasa bot message) as a customer writing ``script`` reads it.

    Only Traditional changes anything: the text (with the variant's phrasing) and the titles of
    buttons and quick replies (character by character) are converted; payloads, images and
    custom payloads are left as they are."""
    if script != TRADITIONAL:
        return message
    converted = dict(message)
    if isinstance(converted.get("text"), str):
        converted["text"] = _traditional(converted["text"], variant)
    for key in ("buttons", "quick_replies"):
        if isinstance(converted.get(key), list):
            converted[key] = [
                (
                    {**b, "title": to_traditional(b["title"], variant, phrases=False)}
                    if isinstance(b, dict) and isinstance(b.get("title"), str)
                    else b
                )
                for b in converted[key]
            ]
    return converted
