"""endpoints.yml as the Rasa server reads it: the action server's shared secret reaches the header."""

from __future__ import annotations

from pathlib import Path

from rasa.utils.endpoints import read_endpoint_config

ENDPOINTS = Path(__file__).resolve().parents[2] / "endpoints.yml"


def test_the_action_token_is_taken_from_the_environment(monkeypatch):
    # Rasa replaces ${VAR} only in plain YAML scalars: a quoted one is sent literally and
    # the action server refuses every call (the customer then only gets the fallback answer)
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "bench-token-0123456789abcdef")
    config = read_endpoint_config(str(ENDPOINTS), "action_endpoint")
    assert config.headers["X-Action-Token"] == "bench-token-0123456789abcdef"
