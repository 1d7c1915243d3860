"""Text normalisation shared by the loader and the queries.

Customers type product names with spaces, full-width characters, Traditional
script and stray punctuation; the catalogue stores one normalised key per name
so that all of these find the same product.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PUNCT = re.compile(r"[\s\u3000·•・,，.。!！?？:：;；、'\"“”‘’()（）\[\]【】{}《》<>〈〉\-—–‐‑_~～/\\|]+")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (leaves Simplified text unchanged)."""
    return _t2s().convert(text)


def normalise(text: str) -> str:
    """A comparison key: NFKC, Simplified script, lower case, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text or "")
    return _PUNCT.sub("", to_simplified(text)).lower()
