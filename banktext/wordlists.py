"""The hand-written word lists both services read (``bot/resources/other_institutions.txt``, ``places.txt``
…): one word per line, then optionally ``|`` and the longer words it must not be read inside
("京东 | 南京东 北京东": the street 南京东路 does not name JD); lines starting with # are comments.

The Rasa server finds the words in messages (``bot.nlu.bank_reference``); the action server keeps a
product name that is another institution's out of "no product of that name" (``actions.resolve``).
Each normalises the words the way it normalises the text it compares them with.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def read_word_list(file: Path, normalise: Callable[[str], str]) -> list[tuple[str, list[str]]]:
    """(word, the longer words it must not be read inside) for each line of ``file``, normalised."""
    entries = []
    for line in file.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, inside = line.partition("|")
        entries.append((normalise(word.strip()), [normalise(w) for w in inside.split()]))
    return entries
