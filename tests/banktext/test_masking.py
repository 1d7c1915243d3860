"""Personal numbers are masked in every format customers type; nothing else is touched.

Runs in both environments (action server and Rasa server): standard library and pytest only.
"""

from __future__ import annotations

import re
import time

import pytest

from banktext import find_phone, mask_phone, redact
from tests.banktext.corpus import (
    CARDS,
    IDS,
    NUMERAL_CHARS,
    PHONES,
    SENTENCES,
    Case,
    cases,
    digit_runs,
    gb11643_check,
    leaked,
    luhn_check_digit,
)

CARD_CASES = cases(CARDS, "card")
ID_CASES = cases(IDS, "id")
PHONE_CASES = cases(PHONES, "phone")


def test_the_corpus_is_large_and_varied():
    assert len(CARDS) >= 90 and len(IDS) >= 60 and len(PHONES) >= 70
    assert len(CARDS) + len(IDS) + len(PHONES) >= 220
    assert {c.digits[:4] for c in CARDS} >= {"6222", "6228", "6217", "4367", "5187", "6259", "6225"}
    assert {len(c.digits) for c in CARDS} == {16, 17, 18, 19}
    assert sum(c.digits.endswith("X") for c in IDS) >= 10 and sum(i.kind == "id15" for i in IDS) >= 10
    assert sum(p.kind == "mobile" for p in PHONES) >= 40 and sum(p.kind == "landline" for p in PHONES) >= 20
    assert len(CARD_CASES) + len(ID_CASES) + len(PHONE_CASES) > 5000


def test_the_generated_check_digits_are_right():
    # published examples: GB 11643-1999 appendix, and the Luhn example from ISO/IEC 7812
    assert gb11643_check("11010519491231002") == "X"
    assert luhn_check_digit("7992739871") == "3"
    valid = [c for c in CARDS if c.digits[-1] == luhn_check_digit(c.digits[:-1])]
    assert 80 <= len(valid) < len(CARDS)  # a few are mistyped on purpose
    assert all(i.digits[-1] == gb11643_check(i.digits[:17]) for i in IDS if i.kind == "id18")


def test_sentences_hold_no_other_digits():
    for templates in SENTENCES.values():
        for template in (t for script in templates for t in script):
            assert not re.search(r"\d", template) and not set(template) & set(NUMERAL_CHARS), template


def _failures(corpus: list[Case]) -> list[str]:
    failed = []
    for case in corpus:
        out = redact(case.text)
        piece = leaked(case.number.digits, out)
        if piece or case.number.masked not in out:
            failed.append(f"{case.number.kind} [{case.format}] {case.text!r} -> {out!r}")
    return failed


@pytest.mark.parametrize("corpus", [CARD_CASES, ID_CASES, PHONE_CASES], ids=["cards", "resident IDs", "phones"])
def test_every_number_is_masked_in_every_format(corpus):
    failed = _failures(corpus)
    assert not failed, f"{len(failed)} of {len(corpus)} left readable or masked wrong:\n" + "\n".join(failed[:40])


def test_id_birth_dates_never_survive():
    for case in ID_CASES:
        out = redact(case.text)
        number = case.number
        assert not any(number.birth in run for run in digit_runs(out)), case.text
        kept = re.search(r"(\d{4})\*+([\dX]{3,4})(?![\dX])", out)
        assert kept, out
        # the kept digits are the region's first four and the sequence (and check) at the end
        assert kept.group(1) == number.digits[:4] and number.digits.endswith(kept.group(2)), out


def test_find_phone_recovers_every_phone_in_every_format():
    failed = [
        f"[{case.format}] {case.text!r} -> {find_phone(case.text)!r}"
        for case in PHONE_CASES
        if find_phone(case.text) != case.number.digits or mask_phone(case.text) != case.number.masked
    ]
    assert not failed, f"{len(failed)} of {len(PHONE_CASES)}:\n" + "\n".join(failed[:40])


def test_no_phone_is_found_in_cards_ids_or_plain_text():
    for case in CARD_CASES[::7] + ID_CASES[::5]:
        assert find_phone(case.text) is None, case.text
    for text in ("不用了", "123", "", "明天下午三点", "热线95588", "400-696-0000"):
        assert find_phone(text) is None and mask_phone(text) is None


@pytest.mark.parametrize(
    "text, phone, masked",
    [
        ("13812345678", "13812345678", "138****5678"),
        ("+86 138 1234 5602", "13812345602", "138****5602"),
        ("打这个 138-1234-5603 就行", "13812345603", "138****5603"),
        ("１３８１２３４５６７８", "13812345678", "138****5678"),
        ("幺三八 幺两三四 五六七八", "13812345678", "138****5678"),
        ("010-12345678", "01012345678", "010-****5678"),
        ("(0755)8888-1234", "075588881234", "0755-****1234"),
        ("0755 12345678 转 123", "075512345678", "0755-****5678"),
        ("公司電話 (02)2345-6789 分機 12", "0223456789", "022-****789"),
        ("13812345678 2026年", "13812345678", "138****5678"),
        ("13812345678 12345", "13812345678", "138****5678"),
    ],
)
def test_the_complaint_call_back_number(text, phone, masked):
    assert find_phone(text) == phone and mask_phone(text) == masked


@pytest.mark.parametrize(
    "text, expected",
    [
        ("我的卡号6222020200112233445丢了", "我的卡号6222***********3445丢了"),
        ("卡号6228 4800 1234 5678，电话13812345678", "卡号6228********5678，电话138****5678"),
        ("身份证110105 19901231 035X", "身份证1101**********035X"),
        ("舊證110105901231035", "舊證1101********035"),
        ("0755 12345678 转 123", "0755-****5678 转 ***"),
        ("(0755)8888-1234", "0755-****1234"),
        ("010-62586601-123", "010-****6601-***"),
        ("我給010-62586601轉1000元", "我給010-****6601轉1000元"),  # a transfer amount, not an extension
        ("+86 10 6258 6601", "010-****6601"),
        ("+852 9123 4567", "+852 ****4567"),
        ("0912-345-678", "0912***678"),
        ("6228480012345678 13812345678", "6228********5678 138****5678"),
        ("预约号YY261128123456，电话13812345678", "预约号YY261128123456，电话138****5678"),
        ("账号62284800123456789012345", "账号6228***************2345"),
    ],
)
def test_masked_forms(text, expected):
    assert redact(text) == expected


NOT_PERSONAL = [
    "我想存200000元定期",
    "200,000元够不够买理财",
    "大概1.5万左右",
    "预约2026-12-03 14:30",
    "20261203那天可以吗",
    "2026年12月3日下午2点半",
    "2026/12/03 09:30",
    "2026.12.03",
    "2026-12-03至2026-12-05",
    "2026-12-03 2026-12-05",
    "年利率3.25%",
    "利率3.25%，期限36个月",
    "0.35%的活期利率",
    "借款100000元分12期",
    "额度50000",
    "1,234,567.89元",
    "余额12345678元",
    "存了1000000元",
    "我的预约号是YY2611283FA09B",
    "预约号YY261128123456",
    "投诉编号TS261128A1B2C3怎么查",
    "ts261128a1b2c3",
    "WM-Q90这款理财怎么样",
    "DISC-R3-2026",
    "BJ-HD-01网点几点开门",
    "CC-GOLD年费",
    "客服热线400-696-0000",
    "信用卡中心400-696-0001",
    "打95588问过了",
    "95566",
    "4006960000",
    "800-820-8820",
    "12315投诉",
    "尾号5678的卡",
    "卡号6228********1234",
    "手机138****5678",
    "身份证1101**********123X",
    "电话010-****5678",
    "1998年开的户",
    "第3期还款",
    "30天、90天、180天",
    "版本3.6.0",
    "验证码482913",
    "房貸30年，利率3.1%",
    "年費200元，額度5萬",
    "我想把200000元存三年",
    "一年期和三年期哪个好",
    "两万块钱存多久",
    "存五万元",
    "",
    "你好",
]


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_what_is_not_personal_comes_back_unchanged(text):
    assert redact(text) == text


def test_there_are_enough_non_personal_examples():
    assert len(NOT_PERSONAL) >= 40


@pytest.mark.parametrize("corpus", [CARD_CASES, ID_CASES, PHONE_CASES], ids=["cards", "resident IDs", "phones"])
def test_masking_twice_changes_nothing(corpus):
    for case in corpus:
        once = redact(case.text)
        assert redact(once) == once, case.text
    for text in NOT_PERSONAL:
        assert redact(redact(text)) == redact(text)


def _fastest(function, repeat: int = 5, number: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


PROSE = ("您好，我想咨询信用卡年费的问题，还有大额存单的利率是多少，谢谢。請問網銀轉帳限額是多少？ " * 60)[:2000]
NO_NUMBERS = {
    "prose": PROSE,
    "spaces": " " * 2000,
    "separators": "- .\u3000/(" * 333,
    "dashes between letters": "a-" * 1000,
    "x after letters": "ax " * 666,
}


@pytest.mark.parametrize("text", NO_NUMBERS.values(), ids=NO_NUMBERS.keys())
def test_masking_a_long_message_is_not_pathological(text):
    """No catastrophic backtracking: a 2,000-character message costs a bounded multiple of a plain scan.

    The bound is relative (a loop of str.replace over the same text on the same machine),
    and generous: backtracking that went wrong costs orders of magnitude more, not a few times.
    """
    replacements = [(char, char.upper()) for char in "abcdefghijklmnopqrst"]

    def plain_scan() -> None:
        out = text
        for old, new in replacements:
            out = out.replace(old, new)

    ratio = _fastest(lambda: redact(text)) / _fastest(plain_scan, number=50)
    assert ratio < 5000, f"redact took {ratio:.0f} times a plain scan"


def test_phone_numbers_gives_what_redact_masked_and_the_digits_behind_it():
    from banktext import phone_numbers

    for case in PHONE_CASES:
        found = phone_numbers(case.text)
        assert len(found) == 1, case
        masked, digits = found[0]
        assert masked in redact(case.text) and masked == mask_phone(case.text), case
        assert digits == find_phone(case.text), case
    text = "卡号6228480402564890018，手机138 1234 5678，座机(010)6258-6601 转 12"
    assert phone_numbers(text) == [("138****5678", "13812345678"), ("010-****6601", "01062586601")]
    assert phone_numbers("三年定期利率多少？20万存两年") == [] and phone_numbers("") == []
