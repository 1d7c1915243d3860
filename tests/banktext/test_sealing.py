"""Sealed call-back numbers: only a holder of the key reads them, and nothing else opens."""

from __future__ import annotations

import base64
import os

import pytest

from banktext import sealing


def new_key(padded: bool = True) -> str:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return key if padded else key.rstrip("=")


@pytest.fixture
def key(monkeypatch):
    value = new_key()
    monkeypatch.setenv(sealing.KEY_ENV, value)
    return value


def test_a_sealed_number_opens_with_its_key_and_shows_no_digit_of_it(key):
    token = sealing.seal("13812345678")
    assert token and "13812345678" not in token and "5678" not in token
    assert sealing.unseal(token) == "13812345678"
    assert sealing.seal("13812345678") != token  # a fresh IV every time: equal numbers do not look equal


def test_without_a_key_nothing_is_sealed_or_opened(key, monkeypatch):
    token = sealing.seal("075588881234")
    monkeypatch.delenv(sealing.KEY_ENV)
    assert not sealing.can_seal()
    assert sealing.seal("075588881234") is None
    assert sealing.unseal(token) is None


def test_another_key_a_forged_or_a_damaged_token_opens_nothing(key, monkeypatch):
    token = sealing.seal("13812345678")
    assert sealing.unseal(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")) is None
    assert sealing.unseal("gAAAAA" + "x" * 94) is None
    assert sealing.unseal("x" * 5000) is None
    assert sealing.unseal("") is None and sealing.unseal(None) is None
    monkeypatch.setenv(sealing.KEY_ENV, new_key())
    assert sealing.unseal(token) is None


def test_keys_rotate_the_first_seals_every_one_opens(key, monkeypatch):
    old = sealing.seal("13812345678")
    fresh = new_key()
    monkeypatch.setenv(sealing.KEY_ENV, f"{fresh}, {key}")
    assert sealing.unseal(old) == "13812345678"
    monkeypatch.setenv(sealing.KEY_ENV, fresh)
    assert sealing.unseal(sealing.seal("13912345678")) == "13912345678"
    assert sealing.unseal(old) is None


def test_a_key_without_its_padding_works_as_the_shell_stores_it(monkeypatch):
    monkeypatch.setenv(sealing.KEY_ENV, new_key(padded=False))
    assert sealing.unseal(sealing.seal("13812345678")) == "13812345678"


@pytest.mark.parametrize("bad", ["not-a-key", "短", "a" * 44])
def test_a_malformed_key_seals_nothing(monkeypatch, bad, caplog):
    monkeypatch.setenv(sealing.KEY_ENV, bad)
    assert sealing.seal("13812345678") is None
    assert not sealing.can_seal()
    assert bad not in caplog.text
