"""Simplified and Traditional script: conversion both ways, and which script a customer wrote."""

from __future__ import annotations

import pytest

from banktext import is_traditional, script_of, to_simplified, to_traditional
from banktext.script import converter


@pytest.mark.parametrize(
    "traditional, simplified",
    [
        ("我的銀行卡丟了", "我的银行卡丢了"),
        ("網銀轉帳限額是多少", "网银转帐限额是多少"),
        ("信用卡年費", "信用卡年费"),
        ("", ""),
    ],
)
def test_to_simplified(traditional, simplified):
    assert to_simplified(traditional) == simplified
    assert to_simplified(simplified) == simplified


@pytest.mark.parametrize(
    "variant, expected",
    [("tw", "手機軟體的資訊"), ("hk", "手機軟件的信息"), ("t", "手機軟件的信息")],
)
def test_to_traditional_variants(variant, expected):
    assert to_traditional("手机软件的信息", variant) == expected


def test_to_traditional_defaults_to_taiwan_phrasing_and_rejects_unknown_variants():
    assert to_traditional("软件") == "軟體"
    assert to_traditional("") == ""
    with pytest.raises(ValueError, match="variant"):
        to_traditional("软件", "mo")


@pytest.mark.parametrize(
    "text, traditional",
    [
        ("我的銀行卡丟了", True),
        ("請問我的帳戶裡面還有多少錢", True),
        ("信用卡年費多少", True),
        ("後台", True),  # 台 is how Taiwan and Hong Kong write it: not counted as Simplified
        ("我的银行卡丢了", False),
        ("请问我的账户里面还有多少钱", False),
        ("后台", False),
        ("信用卡", False),  # no character of one script only
        ("你好", False),
        ("abc 123", False),
        ("", False),
        ("我的銀行卡丢了", False),  # one each: a tie is not Traditional
        ("我的銀行卡丢了，請幫忙", True),
    ],
)
def test_is_traditional(text, traditional):
    assert is_traditional(text) is traditional


def test_each_converter_is_built_once():
    assert converter("t2s") is converter("t2s")
    before = converter.cache_info().hits
    to_simplified("銀行")
    to_traditional("银行", "hk")
    assert converter.cache_info().hits >= before + 2


@pytest.mark.parametrize(
    "text, script",
    [
        ("我的銀行卡丟了", "traditional"),
        ("我的银行卡丢了", "simplified"),
        # what does not tell: digits, Latin letters, emoji, characters both scripts write alike
        ("好的", None),
        ("ok", None),
        ("13812345678", None),
        ("👍", None),
        ("信用卡", None),
        ("1", None),
        ("/affirm", None),
        ("", None),
        ("我的銀行卡丢了", None),  # a tie
        ("\ud83d銀行", "traditional"),  # a lone surrogate (a broken emoji) is skipped, not an error
    ],
)
def test_script_of_tells_only_when_the_text_does(text, script):
    assert script_of(text) == script


def test_characters_only_keep_words_and_names_as_they_are():
    assert to_traditional("借记卡注销", phrases=False) == "借記卡註銷"
    assert to_traditional("借记卡注销") == "簽帳金融卡登出"  # Taiwan words, not always the bank's
    assert to_simplified(to_traditional("天府软件园支行", phrases=False)) == "天府软件园支行"
