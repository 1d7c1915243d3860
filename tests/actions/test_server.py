"""The action server as deployed (``python -m actions.server``): who may call it, and when it refuses to start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-secret-" + "x" * 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env_extra: dict[str, str], port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "actions.server", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _call(port: int, path: str, body: dict | bytes | None = None, token: str | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("X-Action-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def server(tmp_path_factory, seed):
    from knowledge.db import create_schema, session_scope
    from knowledge.loader import apply_seed

    url = f"sqlite:///{tmp_path_factory.mktemp('server') / 'kb.db'}"
    create_schema(url)
    with session_scope(url) as session:
        apply_seed(session, seed)
    port = _free_port()
    proc = _start({"ACTION_SERVER_TOKEN": TOKEN, "KNOWLEDGE_DB_URL": url}, port)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if _call(port, "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"action server did not start: {proc.communicate()[0]}")
    yield port, url
    proc.terminate()
    proc.wait(timeout=10)


def _action_call(name: str, sender: str = "web:someone") -> dict:
    return {
        "next_action": name,
        "sender_id": sender,
        "version": "3.6.21",
        "tracker": {
            "sender_id": sender,
            "slots": {"disclosure_product": "WM-MIX", "disclosure_pending": True, "acknowledged_products": []},
            "latest_message": {"text": "好的", "intent": {"name": "affirm"}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {"responses": {}, "forms": {}},
    }


def test_health_is_open(server):
    assert _call(server[0], "/health")[0] == 200


@pytest.mark.parametrize("token", [None, "", "wrong-token-wrong-token", TOKEN + "x"])
@pytest.mark.parametrize("path", ["/webhook", "/actions"])
def test_calls_without_the_shared_secret_are_refused(server, path, token):
    port, url = server
    body = _action_call("action_acknowledge_disclosure") if path == "/webhook" else None
    status, answer = _call(port, path, body, token)
    assert status == 401, answer
    assert "tracker" not in json.dumps(answer)


def test_a_refused_call_writes_nothing(server):
    import sqlite3

    port, url = server
    _call(port, "/webhook", _action_call("action_acknowledge_disclosure"), None)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        assert db.execute("select count(*) from disclosure_ack").fetchone()[0] == 0


def test_the_rasa_server_with_the_secret_is_served(server):
    status, answer = _call(server[0], "/webhook", _action_call("action_greet"), TOKEN)
    assert status == 200
    assert answer["responses"][0]["response"] == "utter_greet"


def test_a_failing_action_does_not_echo_the_tracker(server):
    body = _action_call("action_book_appointment")  # no appointment slots: the action fails
    body["tracker"]["latest_message"]["text"] = "我的卡号 6228480402564890018"
    status, answer = _call(server[0], "/webhook", body, TOKEN)
    assert status in (200, 500)
    assert "6228480402564890018" not in json.dumps(answer, ensure_ascii=False)


def test_listens_on_loopback_only(server):
    addresses = {
        info[4][0]
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        if not info[4][0].startswith("127.")
    }
    for address in addresses:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((address, server[0])) != 0, f"reachable on {address}"


def test_refuses_to_start_without_a_secret(tmp_path):
    proc = _start({"ACTION_SERVER_TOKEN": "", "KNOWLEDGE_DB_URL": f"sqlite:///{tmp_path / 'kb.db'}"}, _free_port())
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0 and "ACTION_SERVER_TOKEN" in out


def test_refuses_to_start_without_the_knowledge_base(tmp_path):
    missing = tmp_path / "missing" / "kb.db"
    proc = _start({"ACTION_SERVER_TOKEN": TOKEN, "KNOWLEDGE_DB_URL": f"sqlite:///{missing}"}, _free_port())
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0 and "make kb" in out
    assert not missing.exists(), "a missing knowledge base must not be created empty"
