"""Simplified and Traditional Chinese script: conversion both ways, and which one a customer wrote.

The converters are OpenCC's, built once per process (building one reads its
dictionaries from disk). ``opencc`` is imported inside the functions so that
importing :mod:`banktext` costs nothing for a service that only masks numbers.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

__all__ = ["is_traditional", "script_of", "to_simplified", "to_traditional"]

TRADITIONAL = "traditional"
SIMPLIFIED = "simplified"

#: OpenCC configuration per Traditional variant: Taiwan wording (軟體, 資訊), Hong Kong characters, plain.
VARIANTS = {"tw": "s2twp", "hk": "s2hk", "t": "s2t"}
#: The same, characters only: no word replaced by another (借记卡 → 借記卡, not 簽帳金融卡).
CHARACTER_VARIANTS = {"tw": "s2tw", "hk": "s2hk", "t": "s2t"}


@cache
def converter(config: str) -> Any:
    """The OpenCC converter for ``config`` (``t2s``, ``s2t``, ``s2twp``, ``s2hk``, ...), built once."""
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese; Simplified text comes back unchanged."""
    return converter("t2s").convert(text) if text else text


def to_traditional(text: str, variant: str = "tw", phrases: bool = True) -> str:
    """Simplified → Traditional Chinese.

    Args:
        text: Text in Simplified (or mixed) script.
        variant: ``"tw"`` for Taiwan characters and phrasing (OpenCC ``s2twp``: 软件 → 軟體),
            ``"hk"`` for Hong Kong characters (``s2hk``), ``"t"`` for plain OpenCC Traditional (``s2t``).
        phrases: False converts characters only (``tw``: ``s2tw``, 软件 → 軟件): a name or a
            label comes back as it was from :func:`to_simplified`.

    Raises:
        ValueError: ``variant`` is none of the above.
    """
    try:
        config = (VARIANTS if phrases else CHARACTER_VARIANTS)[variant]
    except KeyError:
        raise ValueError(f"unknown Traditional variant {variant!r}; use one of {sorted(VARIANTS)}") from None
    return converter(config).convert(text) if text else text


@lru_cache(maxsize=8192)
def _script_of(char: str) -> int:
    """+1 for a Traditional-only character (it has a Simplified form), -1 for a Simplified-only one, else 0."""
    traditional_only = converter("t2s").convert(char) != char
    # 台, 着 and 里 are changed by s2t but written as they are in Hong Kong or Taiwan: not Simplified-only
    simplified_only = all(converter(config).convert(char) != char for config in ("s2t", "s2tw", "s2hk"))
    return int(traditional_only) - int(simplified_only)


def script_of(text: str) -> str | None:
    """The script ``text`` is written in: ``"traditional"``, ``"simplified"``, or None when it does not tell.

    Counts the characters only one script uses (銀 and 银, 們 and 们); the ones
    both scripts write alike (卡, 信, 用, 好的, and 台 which Taiwan writes for 臺)
    do not count, nor do digits, Latin letters, emoji or lone surrogates. The script with more
    characters of its own wins; a tie does not tell.
    """
    # from U+3400 (CJK extension A) on; lone surrogates (U+D800–DFFF) are no character at all
    score = sum(_script_of(c) for c in text or "" if c >= "\u3400" and not "\ud800" <= c <= "\udfff")
    return TRADITIONAL if score > 0 else SIMPLIFIED if score < 0 else None


def is_traditional(text: str) -> bool:
    """Whether ``text`` is written in Traditional script.

    Counts the characters only one script uses (銀 and 银, 們 and 们); the ones
    both scripts write alike (卡, 信, 用, and 台 which Taiwan writes for 臺) do not
    count. True when the Traditional-only characters outnumber the Simplified-only ones.
    """
    return script_of(text) == TRADITIONAL
