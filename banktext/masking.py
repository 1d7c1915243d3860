"""Mask personal numbers in free text: bank cards, resident IDs, mobile and landline phones.

Customers type the same number in many shapes: ``6228 4800 1234 5678``,
``6228—4800—1234—5678``, ``６２２８４８００…``, ``六二二八四八〇〇…``, one digit per
space, ``+86 138 1234 5678``, ``(0755)8888-1234 转 123``. The text is read in
*runs*: digits (ASCII, full-width, Chinese numerals) joined by separators (spaces
of any kind, dashes, dots, slashes, brackets, plus signs). A run is cut into
numbers at its separators, choosing the cut that covers most digits with
numbers of a known kind, then the number's check digits decide its kind: the
mobile prefix ``1[3-9]``, area codes, the GB 11643 check digit of an 18-digit
ID, Luhn for cards. Privacy wins over precision: a card-shaped number that
fails Luhn, or an ID whose check digit is wrong, is still masked.

Masked forms (one shape per kind, whatever the customer typed; digits are ASCII):

* card: first 4 and last 4 digits, one ``*`` per hidden digit: ``6228********1234``;
* resident ID: 18 digits ``1101**********123X``, 15 digits ``1101********123``:
  the birth date (digits 7-14, or 7-12) is never kept;
* mobile: ``138****5678``; Taiwan mobile ``0912***678``; Hong Kong/Macau ``+852 ****4567``;
* landline: area code and the last 4 (8-digit number) or 3 (7-digit) digits,
  ``0755-****1234``; an extension is kept as a marker with its digits hidden
  (``0755-****1234 转 ***``).

Left alone: amounts, dates, times, years, rates, the bot's own booking and
complaint references (``YY2611283FA09B``), product codes, service numbers
(``95588``, ``400-696-0000``), anything shorter than 10 digits, and text that
is already masked, so ``redact(redact(x)) == redact(x)``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["MASKED_PHONE", "find_phone", "mask_phone", "phone_numbers", "redact", "redact_keeping_phones"]

# Chinese numerals written digit by digit, including the financial forms (壹贰叁) and
# the spoken ones used for phone numbers (幺 for 1, 两 for 2).
_NUMERAL_GROUPS = ("〇○零", "一壹幺", "二贰貳两兩", "三叁參叄", "四肆", "五伍", "六陆陸", "七柒", "八捌", "九玖")
_NUMERAL_VALUE = {char: str(value) for value, chars in enumerate(_NUMERAL_GROUPS) for char in chars}
_NUMERALS = "".join(_NUMERAL_GROUPS)

_DIGIT = rf"[\d{_NUMERALS}]"
# the X closing an ID number, alone or after a digit, not part of a word ("Xbox", "iPhone X")
_X_TAIL = r"(?<![A-Za-z])[XxＸｘ](?![A-Za-z0-9])"
# One class of separators (disjoint from the digits), so a run is matched in linear time.
# Line breaks are not separators: numbers on different lines are different numbers.
_SEPARATORS = (
    "\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"  # spaces of every width, no-break, ideographic
    "\u200b-\u200d\u2060\ufeff"  # zero-width characters pasted from apps
    "\\-\u2010-\u2015\u2212\uff0d\ufe58\ufe63"  # - ‐ ‑ ‒ – — ― − － ﹘ ﹣
    ".\uff0e\u00b7\u30fb\u2027"  # . ． · ・ ‧
    "/\uff0f\\\\"  # / ／ \
    "()\uff08\uff09+\uff0b"  # ( ) （ ） + ＋
)
_RUN = re.compile(rf"{_DIGIT}(?:[{_SEPARATORS}]*(?:{_DIGIT}|{_X_TAIL}))*")
_GROUP = re.compile(rf"{_DIGIT}+(?:{_X_TAIL})?|{_X_TAIL}")

# Spans never read as personal numbers: the bot's own booking (YY) and complaint (TS)
# references (prefix, yymmdd, 6 hex digits; see knowledge.queries), and written dates.
_PROTECTED = re.compile(
    r"(?<![A-Za-z0-9])(?:YY|TS)\d{6}[0-9A-F]{6}(?![A-Za-z0-9])"
    r"|(?<!\d)(?:19|20)\d\d([-/.\uff0e\uff0f])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])(?!\d|[-/.]\d)",
    re.IGNORECASE,
)
_SPACE = "[ \t\u00a0\u3000]*"
# An extension after a landline: 转 123, 轉123, ext. 8, x123, 分机 201, #123
_EXTENSION = re.compile(
    rf"{_SPACE}(?:转|轉|分机号?|分機號?|ext\.?|x|＃|#){_SPACE}[:：]?{_SPACE}({_DIGIT}{{1,6}})"
    rf"(?!{_DIGIT}|{_SPACE}[元块塊万萬千百%％])",
    re.IGNORECASE,
)
# within a run, a dash and a few digits after a landline: 010-62586601-123
_DASH_EXTENSION = re.compile("^[\\-\u2010-\u2015\u2212\uff0d\ufe58\ufe63]$")

#: A phone number in the masked form :func:`redact` writes: mobile, Taiwan mobile, landline, Hong Kong/Macau, other.
MASKED_PHONE = re.compile(
    r"(?<![\d*+])(?:1[3-9]\d\*{4}\d{4}|09\d\d\*{3}\d{3}|0\d{2,3}-\*{4}\d{3,4}|\+85[23] \*{4}\d{4}|\+\*{4,11}\d{4})(?![\d*])"
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
#: fewer digits than this in a run cannot be any personal number (a 7-digit landline with a 3-digit area code)
_MIN_DIGITS = 10
#: a number with its international prefix never has more digits than this
_MAX_DIGITS = 20
#: an unseparated digit string this long is masked even when it is of no known kind
_LONG = 20

_PHONE_KINDS = frozenset({"mobile", "landline", "foreign"})


@dataclass(frozen=True)
class _Number:
    """A personal number found in a run: its kind, its canonical digits, its masked form."""

    kind: str  # card, id, mobile, landline, foreign
    digits: str
    masked: str
    confidence: int  # 3: check digits agree; 1: shape only (masked anyway)


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    digits: str
    plus: bool  # a + (international prefix) right before it


def _ascii_digit(char: str) -> str:
    if char in _NUMERAL_VALUE:
        return _NUMERAL_VALUE[char]
    if char in "XxＸｘ":
        return "X"
    return str(unicodedata.decimal(char))


def _luhn_ok(digits: str) -> bool:
    """Whether ``digits`` pass the Luhn check (bank card numbers)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character (0-9 or X) of an 18-digit resident ID."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _date_ok(yyyymmdd: str) -> bool:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def _is_mobile(d: str) -> bool:
    return len(d) == 11 and d[0] == "1" and d[1] in "3456789"


def _landline_parts(d: str) -> tuple[str, str] | None:
    """Area code and local number of a mainland landline written with its leading 0, or None."""
    if len(d) < 10 or d[0] != "0":
        return None
    if d[1] == "2" or d.startswith("010"):  # Beijing 010 and 020-029 are the 3-digit area codes
        area, local = d[:3], d[3:]
    elif d[1] in "3456789":
        area, local = d[:4], d[4:]
    else:
        return None
    if len(local) in (7, 8):
        return area, local
    return None


def _mobile(d: str, confidence: int = 3) -> _Number:
    return _Number("mobile", d, f"{d[:3]}****{d[-4:]}", confidence)


def _landline(area: str, local: str) -> _Number:
    keep = 4 if len(local) == 8 else 3
    return _Number("landline", area + local, f"{area}-{'*' * (len(local) - keep)}{local[-keep:]}", 3)


def _mainland_phone(d: str) -> _Number | None:
    """A mainland number written without international prefix (a landline may have lost its 0)."""
    if _is_mobile(d):
        return _mobile(d)
    parts = _landline_parts(d) or _landline_parts("0" + d)
    return _landline(*parts) if parts else None


def _phone(d: str, plus: bool) -> _Number | None:
    if d.startswith("00") or plus:
        rest = d[2:] if d.startswith("00") else d
        if rest.startswith("86"):
            return _mainland_phone(rest[2:])
        if rest.startswith(("852", "853")) and len(rest) == 11:
            return _Number("foreign", rest, f"+{rest[:3]} ****{rest[-4:]}", 3)
        if rest.startswith("886"):
            local = rest[3:].removeprefix("0")
            if len(local) == 9 and local[0] == "9":
                return _Number("mobile", "0" + local, f"0{local[:3]}***{local[-3:]}", 3)
        if plus and 8 <= len(rest) <= 15:  # some other country: keep only the last 4 digits
            return _Number("foreign", rest, f"+{'*' * (len(rest) - 4)}{rest[-4:]}", 2)
        return None
    if d.startswith("86") and len(d) > 11:
        found = _mainland_phone(d[2:])
        if found:
            return found
    if _is_mobile(d):
        return _mobile(d)
    parts = _landline_parts(d)
    if parts:
        return _landline(*parts)
    if len(d) == 12 and d[0] == "0" and _is_mobile(d[1:]):  # 0 dialled before a mobile from another city
        return _mobile(d[1:], confidence=2)
    if len(d) == 10 and d.startswith("09"):  # Taiwan mobile
        return _Number("mobile", d, f"{d[:4]}***{d[-3:]}", 2)
    return None


def _card(d: str, confidence: int) -> _Number:
    return _Number("card", d, f"{d[:4]}{'*' * (len(d) - 8)}{d[-4:]}", confidence)


def _id18(d: str, confidence: int) -> _Number:
    return _Number("id", d, f"{d[:4]}{'*' * 10}{d[-4:]}", confidence)


def _classify(d: str, plus: bool, phones_only: bool = False) -> _Number | None:
    """The kind of personal number the digit string ``d`` is, or None."""
    if "X" in d[:-1]:
        return None
    if d.endswith("X"):
        return _id18(d, 3 if _id_check_digit(d[:17]) == "X" else 2) if len(d) == 18 and not phones_only else None
    found = _phone(d, plus)
    if found or phones_only:
        return found
    n = len(d)
    if n == 18:
        if _id_check_digit(d[:17]) == d[17]:
            return _id18(d, 3)
        if _luhn_ok(d):
            return _card(d, 3)
        # a mistyped ID or an 18-digit card: both masks keep the same 8 digits, none of the birth date
        return _id18(d, 1) if _date_ok(d[6:14]) else _card(d, 1)
    if n == 15:
        if d[0] in "12345678" and _date_ok("19" + d[6:12]):
            return _Number("id", d, f"{d[:4]}{'*' * 8}{d[-3:]}", 2)
        return _card(d, 2) if _luhn_ok(d) else None
    if n == 17 and d[0] in "12345678" and _date_ok(d[6:14]):
        # an ID typed without its last character: a card's last 4 would show a digit of the birth date
        return _Number("id", d, f"{d[:4]}{'*' * 10}{d[-3:]}", 1)
    if 16 <= n <= 19:
        return _card(d, 3 if _luhn_ok(d) else 1)
    return None


def _groups(scan: str, run: re.Match[str]) -> list[_Group]:
    groups = []
    for m in _GROUP.finditer(run.group(0)):
        start, end = run.start() + m.start(), run.start() + m.end()
        # an international prefix starts a run ("+86 138…", "(+86)…"); a + between digits is a sum
        plus = not groups and any(c in "+＋" for c in scan[max(0, start - 2) : start])
        groups.append(_Group(start, end, "".join(_ascii_digit(c) for c in m.group(0)), plus))
    return groups


def _numbers_in_run(groups: list[_Group], phones_only: bool) -> list[tuple[int, int, _Number]]:
    """The best cut of a run into numbers: (first group, last group, number), in order.

    The cut covers as many digits as possible with known numbers, so no part of a
    long number is left readable because a shorter number fits inside it; ties go to
    the cut whose numbers' check digits agree, then to fewer numbers.
    """
    n = len(groups)
    best: list[tuple[int, int, int]] = [(0, 0, 0)] * (n + 1)  # covered digits, confidence, -numbers
    choice: list[tuple[int, _Number] | None] = [None] * (n + 1)
    for i in range(n - 1, -1, -1):
        best[i], choice[i] = best[i + 1], None
        digits = ""
        for j in range(i, n):
            digits += groups[j].digits
            if len(digits) < _MIN_DIGITS:
                continue
            if len(digits) > _MAX_DIGITS:
                break
            found = _classify(digits, groups[i].plus, phones_only)
            if found:
                rest = best[j + 1]
                candidate = (rest[0] + len(digits), rest[1] + found.confidence, rest[2] - 1)
                if candidate > best[i]:
                    best[i], choice[i] = candidate, (j, found)
    numbers, i = [], 0
    while i < n:
        picked = choice[i]
        if picked is None:
            i += 1
            continue
        j, found = picked
        numbers.append((i, j, found))
        i = j + 1
    return numbers


def _protected(text: str) -> str:
    """``text`` with the spans that are never personal numbers blanked out (same length)."""
    return _PROTECTED.sub(lambda m: "\x00" * len(m.group(0)), text)


def _runs(text: str) -> Iterator[tuple[str, re.Match[str], list[_Group]]]:
    """The runs of ``text`` long enough to hold a personal number: (scanned text, run, its groups)."""
    scan = _protected(text)
    for run in _RUN.finditer(scan):
        if sum(1 for c in run.group(0) if c.isdecimal() or c in _NUMERAL_VALUE) >= _MIN_DIGITS:
            yield scan, run, _groups(scan, run)


def _spans(
    scan: str, run: re.Match[str], groups: list[_Group], numbers: list[tuple[int, int, _Number]]
) -> Iterator[tuple[int, int, _Number, tuple[int, int] | None]]:
    """Where each number of a run is in the text: (start, end, number, span of its extension's digits)."""
    covered = {k for i, j, _ in numbers for k in range(i, j + 1)}
    for i, j, found in numbers:
        start, end = groups[i].start, groups[j].end
        # take in the + and the opening bracket of "(0755)8888-1234", "+86 138…", "(+86)…"
        while start > 0 and scan[start - 1] in "+＋(（":
            if scan[start - 1] in "(（" and not re.search("[)）]", scan[start:end]):
                break
            start -= 1
        extension = None
        if found.kind == "landline":
            if j + 1 < len(groups) and j + 1 not in covered:
                after = groups[j + 1]
                if len(after.digits) <= 6 and _DASH_EXTENSION.match(scan[end : after.start]):
                    extension = (after.start, after.end)
                    covered.add(j + 1)
            elif end == run.end():
                m = _EXTENSION.match(scan, end)
                if m:
                    extension = m.span(1)
        yield start, end, found, extension
    # an unseparated string of 20 digits or more: some account number, masked like a card
    for k, group in enumerate(groups):
        if k not in covered and len(group.digits) >= _LONG and group.digits.isdigit():
            yield group.start, group.end, _card(group.digits, 1), None


def _found(text: str) -> Iterator[tuple[int, int, _Number, tuple[int, int] | None]]:
    """Every personal number :func:`redact` masks in ``text``, in the order of the text."""
    spans = (
        span
        for scan, run, groups in _runs(text)
        for span in _spans(scan, run, groups, _numbers_in_run(groups, phones_only=False))
    )
    return iter(sorted(spans, key=lambda span: span[0]))


def redact(text: str) -> str:
    """``text`` with every card, resident-ID and phone number masked (see the module docstring for the forms).

    Args:
        text: Free text as a customer typed it, in either script, any width of digits.

    Returns:
        The same text with each personal number replaced by its masked form; the
        rest, including amounts, dates and references, unchanged.
    """
    return redact_keeping_phones(text)[0]


def redact_keeping_phones(text: str) -> tuple[str, list[tuple[str, str]]]:
    """:func:`redact` and, from the same reading of the text, each phone number it masked as
    (its masked form, its plain digits), in order: what the channel gateway keeps of a message
    for one turn, so that a call-back number given on purpose can be sealed for staff."""
    if not text:
        return text, []
    pieces: list[str] = []
    phones: list[tuple[str, str]] = []
    last = 0
    for start, end, found, extension in _found(text):
        if start < last:  # cannot happen by construction; never mask half a number twice
            continue
        pieces += [text[last:start], found.masked]
        last = end
        if found.kind in _PHONE_KINDS:
            phones.append((found.masked, found.digits))
        if extension:
            pieces += [text[end : extension[0]], "*" * (extension[1] - extension[0])]
            last = extension[1]
    if not pieces:
        return text, phones
    pieces.append(text[last:])
    return "".join(pieces), phones


def _first_phone(text: str) -> _Number | None:
    for _scan, _run, groups in _runs(text or ""):
        numbers = [found for _i, _j, found in _numbers_in_run(groups, phones_only=False)]
        phones = [found for found in numbers if found.kind in _PHONE_KINDS]
        if phones:
            return phones[0]
        if any(found.confidence == 3 for found in numbers):
            continue  # a card or an ID whose check digits agree holds no phone number
        # a phone run together with more digits ("13812345678 12345") reads as a mistyped card;
        # the number a customer gives comes first, what follows it is a time or a remark
        first = _numbers_in_run(groups, phones_only=True)[:1]
        if first and first[0][0] == 0:
            return first[0][2]
    return None


def find_phone(text: str) -> str | None:
    """The first phone number in ``text`` as plain digits, or None.

    Mobiles come back as 11 digits (``13812345678``, without +86), mainland
    landlines with their area code and leading 0 (``075588881234``); an extension
    is dropped. Accepts every format :func:`redact` masks.
    """
    found = _first_phone(text)
    return found.digits if found else None


def mask_phone(text: str) -> str | None:
    """The masked form of the first phone number in ``text`` (``138****5678``, ``0755-****1234``), or None."""
    found = _first_phone(text)
    return found.masked if found else None


def phone_numbers(text: str) -> list[tuple[str, str]]:
    """Each phone number :func:`redact` masks in ``text``: (its masked form, its plain digits), in order."""
    return redact_keeping_phones(text)[1]
