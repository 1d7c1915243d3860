"""Text normalisation shared by the loader and the queries.

Customers type product names with spaces, full-width characters, Traditional
script and stray punctuation; the catalogue stores one normalised key per name
so that all of these find the same product.
"""

from __future__ import annotations

import re
import unicodedata

from banktext.cantonese import to_mandarin
from banktext.script import to_simplified

__all__ = ["normalise", "to_simplified"]

_PUNCT = re.compile(r"[\s\u3000·•・,，.。!！?？:：;；、'\"“”‘’()（）\[\]【】{}《》<>〈〉\-—–‐‑_~～/\\|]+")


def normalise(text: str) -> str:
    """A comparison key: NFKC, Simplified script, Mandarin words for written Cantonese (唔見 → 不见),
    lower case, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text or "")
    return _PUNCT.sub("", to_mandarin(to_simplified(text))).lower()
