"""Mask personal numbers before anything is stored: card, ID and phone numbers."""

from __future__ import annotations

import re

# An 18-character resident ID (17 digits + digit or X), a 15-digit old-style ID,
# bank card numbers (13-19 digits, spaces or dashes allowed), mobile phone numbers.
_ID18 = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_CARD = re.compile(r"(?<!\d)(\d{4})(?:[ -]?\d){5,11}([ -]?\d{4})(?!\d)")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID15 = re.compile(r"(?<!\d)(\d{6})\d{6}(\d{3})(?!\d)")


def redact(text: str) -> str:
    """The text with ID, card and phone numbers masked, keeping only their ends."""
    if not text:
        return text
    text = _ID18.sub(lambda m: f"{m.group(1)}{'*' * 11}{m.group(2)[-1]}", text)
    text = _CARD.sub(
        lambda m: f"{m.group(1)}{'*' * (len(re.sub(r'[ -]', '', m.group(0))) - 8)}{m.group(2).strip(' -')}", text
    )
    text = _PHONE.sub(r"\1****\2", text)
    text = _ID15.sub(r"\1******\2", text)
    return text


def mask_phone(text: str) -> str | None:
    """A contact number reduced to its masked form, or None when ``text`` holds none."""
    digits = re.sub(r"[\s-]", "", text or "")
    mobile = re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", digits)
    if mobile:
        number = mobile.group(0)
        return f"{number[:3]}****{number[-4:]}"
    landline = re.search(r"(?<!\d)0\d{2,3}\d{7,8}(?!\d)", digits)
    if landline:
        number = landline.group(0)
        return f"{number[:4]}****{number[-3:]}"
    return None
