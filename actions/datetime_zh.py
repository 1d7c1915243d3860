"""Read an appointment time the way customers write it: 明天上午10点, 12月3日下午2点半, 下周一 9:30.

This module holds parsing vocabulary (what customers type), not wording the
assistant says.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from banktext import to_simplified
from banktext.cantonese import to_mandarin

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_WEEKDAY = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}
_RELATIVE = {"前天": -2, "昨天": -1, "今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "後天": 2, "大后天": 3}


def _int(text: str) -> int | None:
    """Arabic or Chinese numerals up to 99: 10, 十, 十二, 二十三."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(c not in _DIGITS and c != "十" for c in text):
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_DIGITS.get(tens, 1) if tens else 1) * 10 + (_DIGITS.get(ones, 0) if ones else 0)
    value = 0
    for c in text:
        value = value * 10 + _DIGITS[c]
    return value


_NUM = r"[0-9零〇一二两三四五六七八九十]{1,3}"
_DATE_ISO = re.compile(r"(?:(\d{4})[-/年.])?(\d{1,2})[-/月.](\d{1,2})[日号號]?")
_DATE_CN = re.compile(rf"(?:({_NUM})月)({_NUM})[日号號]")
#: A day of this month or the next ones: 下个月5号, 下月15日, 本月20号, 下下个月1号.
_MONTH_DAY = re.compile(rf"(下下个?|下个?|这个?|本)月({_NUM})[日号號]")
_WEEK = re.compile(r"(下下|下个?|这个?|本)?(?:周|星期|礼拜|禮拜)([一二三四五六日天1-7])")
_TIME = re.compile(rf"({_NUM})(?:[:：](\d{{2}})|[点點时時](?:(半)|({_NUM})分?)?)")
_PERIOD = re.compile(r"(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上)")
_WEEKEND = re.compile(r"周末|礼拜天|星期天")
#: A day and a time of day in one word (明早十点, 今晚七点).
_SHORT_DAY_PERIOD_WORDS = {"明早": "明天早上", "明晚": "明天晚上", "今早": "今天早上", "今晚": "今天晚上"}
_SHORT_DAY_PERIOD = re.compile("|".join(_SHORT_DAY_PERIOD_WORDS))


def _clean(text: str) -> str:
    """Simplified, half-width Mandarin text: 下週二下午兩點 reads as 下周二下午两点, 聽日下晝 as 明天下午."""
    text = to_mandarin(to_simplified(unicodedata.normalize("NFKC", text or "")))
    text = _SHORT_DAY_PERIOD.sub(lambda m: _SHORT_DAY_PERIOD_WORDS[m.group(0)], text)
    # spaces separate numbers ("12/5 14:00") but nothing else ("明天 上午 10 点")
    return re.sub(r"\s+", "", re.sub(r"(?<=\d)\s+(?=\d)", ",", text.strip())).replace("：", ":")


def parse_datetime(text: str, now: dt.datetime) -> dt.datetime | None:
    """The moment ``text`` names, relative to ``now``; None when it names no date and time."""
    day, clock = parse_parts(text, now)
    if day is None or clock is None:
        return None
    return dt.datetime.combine(day, clock)


def parse_parts(text: str, now: dt.datetime) -> tuple[dt.date | None, dt.time | None]:
    """The day and the time of day ``text`` names, each None when it names none (下午两点: no day)."""
    text = _clean(text)
    day: dt.date | None = None
    rest = text
    for word in sorted(_RELATIVE, key=len, reverse=True):
        if word in text:
            day = now.date() + dt.timedelta(days=_RELATIVE[word])
            rest = text.replace(word, "", 1)
            break
    if day is None:
        m = _DATE_ISO.search(text) or _DATE_CN.search(text)
        if m and m.re is _DATE_ISO:
            year = int(m.group(1)) if m.group(1) else now.year
            month, dom = int(m.group(2)), int(m.group(3))
        elif m:
            year, month, dom = now.year, _int(m.group(1)), _int(m.group(2))
        if m:
            try:
                day = dt.date(year, month, dom)
            except (TypeError, ValueError):
                return None, None
            if not m.group(1) and m.re is _DATE_ISO and day < now.date():
                day = day.replace(year=year + 1)
            if m.re is _DATE_CN and day < now.date():
                day = day.replace(year=year + 1)
            rest = text[: m.start()] + text[m.end() :]
    if day is None:
        md = _MONTH_DAY.search(text)
        if md:
            ahead = 2 if md.group(1).startswith("下下") else 1 if md.group(1).startswith("下") else 0
            year, month = divmod(now.month - 1 + ahead, 12)
            try:
                day = dt.date(now.year + year, month + 1, _int(md.group(2)) or 0)
            except ValueError:  # 下个月31号 in a month of 30 days: no such day
                return None, None
            rest = text[: md.start()] + text[md.end() :]
    if day is None:
        w = _WEEK.search(text)
        if w:
            target = _WEEKDAY[w.group(2)]
            base = now.date() - dt.timedelta(days=now.weekday())
            weeks = {"下下": 2}.get(w.group(1) or "", 1 if (w.group(1) or "").startswith("下") else 0)
            day = base + dt.timedelta(weeks=weeks, days=target)
            if weeks == 0 and day < now.date():
                day += dt.timedelta(weeks=1)
            rest = text[: w.start()] + text[w.end() :]
    if day is None and _WEEKEND.search(text):
        day = now.date() + dt.timedelta(days=(5 - now.weekday()) % 7)
    t = _TIME.search(rest)
    if t is None:
        return day, None
    hour = _int(t.group(1))
    minute = int(t.group(2)) if t.group(2) else 30 if t.group(3) else (_int(t.group(4)) if t.group(4) else 0)
    if hour is None or minute is None:
        return day, None
    period = _PERIOD.search(rest)
    if period and period.group(1) in ("下午", "傍晚", "晚上") and hour < 12:
        hour += 12
    if period and period.group(1) == "中午" and hour < 6:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return day, None
    return day, dt.time(hour, minute)


def parse_day(text: str, now: dt.datetime) -> dt.date | None:
    """The day ``text`` names (明天, 周六, 周末, 12月5日), or None."""
    return parse_parts(text, now)[0]
