"""A deterministic corpus of personal numbers, each rendered the ways customers type it.

Numbers are generated here, check digits computed here (independently of
``banktext``), so the tests compare the masking against an outside reference.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

RNG = random.Random(20261128)

# --- check digits (reference implementations) ------------------------------


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass Luhn."""
    total = 0
    for i, char in enumerate(reversed(body)):
        d = int(char)
        if i % 2 == 0:  # doubled: these positions are odd once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def gb11643_check(first17: str) -> str:
    """GB 11643-1999: sum of digit x (2^(17-i) mod 11), the remainder mapped to 1 0 X 9 8 7 6 5 4 3 2."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return "10X98765432"[total % 11]


# --- the numbers --------------------------------------------------------------

CARD_BINS = ("6222", "6228", "6217", "4367", "5187", "6259", "6225", "6212", "6214", "6226", "6230", "6227")
ID_REGIONS = [
    "110105",
    "110108",
    "310104",
    "310115",
    "440305",
    "440106",
    "510107",
    "330106",
    "320102",
    "420111",
    "610113",
    "370202",
    "500103",
    "120101",
    "210102",
    "350203",
    "430104",
    "530102",
]
MOBILE_PREFIXES = ("130", "133", "135", "136", "138", "139", "150", "152", "158", "166", "177", "186", "188", "199")
AREA_CODES_8 = ("010", "020", "021", "022", "023", "025", "027", "028", "029", "0755", "0571", "0512", "0532")
AREA_CODES_7 = ("0898", "0871", "0935", "0746")


def _digits(n: int) -> str:
    return "".join(RNG.choice("0123456789") for _ in range(n))


@dataclass(frozen=True)
class Number:
    kind: str  # card, id18, id15, mobile, landline
    digits: str  # the canonical digits (landline with its leading 0, X upper case)
    masked: str  # the masked form redact() must produce
    area: str = ""  # landline area code
    birth: str = ""  # ID birth date digits as written in the number


def make_cards() -> list[Number]:
    cards = []
    for i in range(96):
        bin_ = CARD_BINS[i % len(CARD_BINS)]
        length = (16, 19, 16, 19, 17, 18)[i % 6]
        body = bin_ + _digits(length - 5)
        number = body + luhn_check_digit(body)
        if i % 12 == 11:  # a customer mistyping their own card: fails Luhn, still a card to mask
            number = number[:-1] + str((int(number[-1]) + 3) % 10)
        cards.append(Number("card", number, number[:4] + "*" * (length - 8) + number[-4:]))
    return cards


def _birth(rng: random.Random) -> dt.date:
    return dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 58 * 365))


def make_ids() -> list[Number]:
    ids = []
    while len(ids) < 52:
        region = ID_REGIONS[len(ids) % len(ID_REGIONS)]
        birth = _birth(RNG).strftime("%Y%m%d")
        first17 = region + birth + _digits(3)
        check = gb11643_check(first17)
        x_wanted = len(ids) % 4 == 0  # a quarter end in X
        if (check == "X") != x_wanted:
            continue
        number = first17 + check
        ids.append(Number("id18", number, number[:4] + "*" * 10 + number[-4:], birth=birth))
    for i in range(14):
        birth = _birth(RNG).strftime("%y%m%d")
        number = ID_REGIONS[i % len(ID_REGIONS)] + birth + _digits(3)
        ids.append(Number("id15", number, number[:4] + "*" * 8 + number[-3:], birth=birth))
    return ids


def make_phones() -> list[Number]:
    phones = []
    for i in range(48):
        number = MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)] + _digits(8)
        phones.append(Number("mobile", number, f"{number[:3]}****{number[-4:]}"))
    for i in range(26):
        if i % 5 == 4:
            area, local = AREA_CODES_7[i % len(AREA_CODES_7)], RNG.choice("2345678") + _digits(6)
        else:
            area, local = AREA_CODES_8[i % len(AREA_CODES_8)], RNG.choice("123456789") + _digits(7)
        keep = 4 if len(local) == 8 else 3
        masked = f"{area}-{'*' * (len(local) - keep)}{local[-keep:]}"
        phones.append(Number("landline", area + local, masked, area=area))
    return phones


CARDS = make_cards()
IDS = make_ids()
PHONES = make_phones()

# --- how customers write them ------------------------------------------------------

FULL_WIDTH = str.maketrans("0123456789Xx-()+", "０１２３４５６７８９Ｘｘ－（）＋")
CHINESE = str.maketrans("0123456789", "〇一二三四五六七八九")
CHINESE_LING = str.maketrans("0123456789", "零一二三四五六七八九")
SPOKEN = str.maketrans("0123456789", "零幺两三四五六七八九")  # 幺 for 1, 两 for 2, as read out on the phone


def groups(text: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        if i >= len(text):
            break
        parts.append(text[i : i + size])
        i += size
    if i < len(text):
        parts.append(text[i:])
    return sep.join(parts)


def fours(sep: str) -> Callable[[str], str]:
    return lambda d: groups(d, (4,) * 5, sep)


Render = Callable[[str], str]

CARD_FORMATS: dict[str, Render] = {
    "plain": lambda d: d,
    "spaces": fours(" "),
    "double spaces": fours("  "),
    "ideographic spaces": fours("\u3000"),
    "no-break spaces": fours("\u00a0"),
    "tabs": fours("\t"),
    "dashes": fours("-"),
    "en dashes": fours("–"),
    "em dashes": fours("—"),
    "full-width dashes": fours("－"),
    "hyphens": fours("‐"),
    "dots": fours("."),
    "slashes": fours("/"),
    "full-width": lambda d: d.translate(FULL_WIDTH),
    "full-width grouped": lambda d: fours("\u3000")(d).translate(FULL_WIDTH),
    "Chinese numerals": lambda d: d.translate(CHINESE),
    "Chinese numerals grouped": lambda d: fours(" ")(d).translate(CHINESE_LING),
    "digit per space": lambda d: " ".join(d),
    "6-6-rest": lambda d: groups(d, (6, 6), " "),
    "mixed separators": lambda d: d[:4] + " " + d[4:8] + "-" + d[8:12] + "\u3000" + d[12:],
}

ID_FORMATS: dict[str, Render] = {
    "plain": lambda d: d,
    "lower-case x": lambda d: d.lower(),
    "6-8-rest spaced": lambda d: groups(d, (6, 8), " "),
    "6-8-rest dashed": lambda d: groups(d, (6, 8), "-"),
    "6-8-rest ideographic": lambda d: groups(d, (6, 8), "\u3000"),
    "fours": fours(" "),
    "full-width": lambda d: d.translate(FULL_WIDTH),
    "Chinese numerals": lambda d: d.translate(CHINESE),
    "digit per space": lambda d: " ".join(d),
    "3-3-4-4-rest": lambda d: groups(d, (3, 3, 4, 4), " "),
    "dots": lambda d: groups(d, (6, 8), "."),
}


def _mobile_formats() -> dict[str, Render]:
    def split(d: str, sep: str) -> str:
        return groups(d, (3, 4), sep)

    return {
        "plain": lambda d: d,
        "3-4-4 spaces": lambda d: split(d, " "),
        "3-4-4 dashes": lambda d: split(d, "-"),
        "+86 spaced": lambda d: "+86 " + split(d, " "),
        "+86 glued": lambda d: "+86" + d,
        "+86-": lambda d: "+86-" + split(d, "-"),
        "0086": lambda d: "0086 " + d,
        "(86)": lambda d: "(86)" + d,
        "86-": lambda d: "86-" + d,
        "(+86)": lambda d: "(+86) " + split(d, " "),
        "full-width +86": lambda d: ("+86 " + split(d, " ")).translate(FULL_WIDTH),
        "full-width": lambda d: d.translate(FULL_WIDTH),
        "full-width ideographic": lambda d: split(d, "\u3000").translate(FULL_WIDTH),
        "Chinese numerals": lambda d: d.translate(CHINESE),
        "spoken numerals": lambda d: d.translate(SPOKEN),
        "digit per space": lambda d: " ".join(d),
        "dots": lambda d: split(d, "."),
        "en dashes": lambda d: split(d, "–"),
        "double spaces": lambda d: split(d, "  "),
        "no-break spaces": lambda d: split(d, "\u00a0"),
        "4-4-3": lambda d: groups(d, (4, 4), " "),
        "bracketed prefix": lambda d: f"({d[:3]}){d[3:7]}-{d[7:]}",
    }


MOBILE_FORMATS = _mobile_formats()


def _landline_formats() -> dict[str, Callable[[str, str], str]]:
    def local_split(local: str, sep: str) -> str:
        return local[:-4] + sep + local[-4:]

    return {
        "dash": lambda a, n: f"{a}-{n}",
        "brackets": lambda a, n: f"({a}){local_split(n, '-')}",
        "full-width brackets": lambda a, n: f"（{a}）{n}",
        "space": lambda a, n: f"{a} {n}",
        "glued": lambda a, n: a + n,
        "extension 转": lambda a, n: f"{a} {n} 转 123",
        "extension 轉 glued": lambda a, n: f"{a}-{n}轉8012",
        "extension ext.": lambda a, n: f"{a}-{n} ext. 8",
        "extension 分机": lambda a, n: f"{a} {local_split(n, ' ')} 分机 201",
        "extension dash": lambda a, n: f"{a}-{n}-66",
        "+86": lambda a, n: f"+86 {a[1:]} {local_split(n, ' ')}",
        "+86-": lambda a, n: f"+86-{a[1:]}-{n}",
        "0086": lambda a, n: f"0086 {a[1:]} {n}",
        "full-width": lambda a, n: f"{a}-{n}".translate(FULL_WIDTH),
        "full-width brackets and digits": lambda a, n: f"({a}){local_split(n, '-')}".translate(FULL_WIDTH),
        "dots": lambda a, n: f"{a}.{local_split(n, '.')}",
        "em dash": lambda a, n: f"{a}—{n}",
        "Chinese numerals": lambda a, n: f"{a} {n}".translate(CHINESE),
        "digit per space": lambda a, n: " ".join(a + n),
        "ideographic space": lambda a, n: f"{a}\u3000{n}",
    }


LANDLINE_FORMATS = _landline_formats()

# --- the sentences around them (no digits and no Chinese numerals, so that the only
# digits in a sentence are the number's) ------------------------------------------------

SENTENCES = {
    "card": (
        (
            "我的卡号{}丢了，怎么挂失？",
            "卡号是 {} ，昨天在商场被盗刷了",
            "请帮我查下{}这张卡的余额",
            "{}这张借记卡被冻结了",
        ),
        (
            "我的卡號{}不見了，要怎麼掛失？",
            "卡號是 {}，昨天在商場被盜刷了",
            "請幫我查詢{}這張卡的餘額",
            "{}這張金融卡被凍結了",
        ),
    ),
    "id": (
        ("身份证号{}，帮我查下名下的卡", "我的身份证{}过期了还能办业务吗", "证件号码是：{}", "开户用的身份证是{}。"),
        ("身分證字號{}，幫我查名下的卡", "我的身份證{}過期了還能辦業務嗎", "證件號碼是：{}", "開戶用的身分證是{}。"),
    ),
    "phone": (
        ("手机号{}收不到验证码", "请打我电话 {} 联系我", "我的联系方式：{}，下午都在", "换绑新号码{}怎么操作"),
        ("手機號碼{}收不到驗證碼", "請打我電話 {} 聯絡我", "我的聯絡方式：{}，下午都在", "換綁新號碼{}要怎麼操作"),
    ),
}
NUMERAL_CHARS = "〇○零一壹幺二贰貳两兩三叁參叄四肆五伍六陆陸七柒八捌九玖十"


@dataclass(frozen=True)
class Case:
    number: Number
    format: str
    text: str  # the sentence with the number in it


def _render(number: Number) -> list[tuple[str, str]]:
    if number.kind == "card":
        return [(name, f(number.digits)) for name, f in CARD_FORMATS.items()]
    if number.kind == "id18":
        return [(name, f(number.digits)) for name, f in ID_FORMATS.items()]
    if number.kind == "id15":
        return [(name, f(number.digits)) for name, f in ID_FORMATS.items() if name != "lower-case x"]
    if number.kind == "mobile":
        return [(name, f(number.digits)) for name, f in MOBILE_FORMATS.items()]
    local = number.digits[len(number.area) :]
    return [(name, f(number.area, local)) for name, f in LANDLINE_FORMATS.items()]


def cases(numbers: list[Number], topic: str) -> list[Case]:
    """Every number in every format, each in a Simplified and a Traditional sentence."""
    out = []
    for i, number in enumerate(numbers):
        for k, (name, written) in enumerate(_render(number)):
            for script in (0, 1):
                templates = SENTENCES[topic][script]
                out.append(Case(number, name, templates[(i + k) % len(templates)].format(written)))
    return out


# --- reading digits back out of a text ---------------------------------------------------

_NUMERAL_GROUPS = ("〇○零", "一壹幺", "二贰貳两兩", "三叁參叄", "四肆", "五伍", "六陆陸", "七柒", "八捌", "九玖")
_NUMERAL_VALUES = {char: str(value) for value, chars in enumerate(_NUMERAL_GROUPS) for char in chars}


def digit_runs(text: str) -> list[str]:
    """The digit strings a reader could take from ``text``: any digits (full-width, Chinese numerals
    included) with whatever separators between them removed; ``*`` and letters end a run."""
    runs, current = [], []
    for char in text + "*":
        if char in _NUMERAL_VALUES:
            current.append(_NUMERAL_VALUES[char])
        elif char.isdecimal():
            current.append(str(unicodedata.decimal(char)))
        elif char != "*" and (unicodedata.category(char)[0] in "ZP" or char in "\t+＋"):
            continue  # spaces, dashes, dots, slashes, brackets: a reader skips them
        elif current:  # a mask's *, a letter, a Chinese character
            runs.append("".join(current))
            current = []
    return runs


def leaked(original: str, text: str, longest: int = 4) -> str | None:
    """A piece of ``original``'s digits longer than ``longest`` that can still be read in ``text``, or None."""
    digits = original.rstrip("Xx")
    runs = digit_runs(text)
    for i in range(len(digits) - longest):
        piece = digits[i : i + longest + 1]
        if any(piece in run for run in runs):
            return piece
    return None
