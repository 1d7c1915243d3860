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
    proc = _started({"ACTION_SERVER_TOKEN": TOKEN, "KNOWLEDGE_DB_URL": url}, port)
    yield port, url
    proc.terminate()
    proc.wait(timeout=10)


def _started(env_extra: dict[str, str], port: int) -> subprocess.Popen:
    """An action server that answers its health check."""
    proc = _start(env_extra, port)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if _call(port, "/health")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail(f"action server did not start: {proc.communicate()[0]}")


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


# --- sealed call-back numbers from the Rasa server's gateway -------------------------------------------

SEALED = "gAAAAA" + "b" * 94  # the shape of a Fernet token; the action server never opens one


def _callback_rows(url: str) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute("select conversation_ref, masked, sealed from callback_number").fetchall()


def test_a_sealed_call_back_number_is_kept_under_the_conversations_pseudonym(server):
    from knowledge.queries import pseudonym

    port, url = server
    body = {"conversation_id": "web:callback-1", "masked": "138****5678", "sealed": SEALED}
    assert _call(port, "/callback_numbers", body, TOKEN)[0] == 201
    assert (pseudonym("web:callback-1"), "138****5678", SEALED) in _callback_rows(url)
    assert not any("web:callback-1" in str(row) for row in _callback_rows(url))


@pytest.mark.parametrize(
    "body",
    [
        {"conversation_id": "web:x", "masked": "13812345678", "sealed": SEALED},  # a readable number
        {"conversation_id": "web:x", "masked": "6228********1234", "sealed": SEALED},  # a card, not a phone
        {"conversation_id": "web:x", "masked": "138****5678", "sealed": "13812345678"},
        {"conversation_id": "web:x", "masked": "138****5678", "sealed": SEALED + "<script>"},
        {"conversation_id": "", "masked": "138****5678", "sealed": SEALED},
        {"conversation_id": "web:x", "masked": "138****5678"},
        {"conversation_id": ["web:x"], "masked": "138****5678", "sealed": SEALED},
        b"not json",
        b"[1, 2]",
    ],
)
def test_anything_but_a_masked_phone_and_a_sealed_token_is_refused(server, body):
    port, url = server
    before = len(_callback_rows(url))
    assert _call(port, "/callback_numbers", body, TOKEN)[0] == 400
    assert len(_callback_rows(url)) == before


def test_call_back_numbers_need_the_shared_secret(server):
    port, url = server
    before = len(_callback_rows(url))
    body = {"conversation_id": "web:x", "masked": "138****5678", "sealed": SEALED}
    assert _call(port, "/callback_numbers", body, "wrong-token-wrong-token")[0] == 401
    assert len(_callback_rows(url)) == before


def test_old_and_unclaimed_call_back_numbers_are_deleted_at_start(tmp_path, seed):
    import datetime as dt

    from knowledge import models as m
    from knowledge import queries as q
    from knowledge.db import create_schema, session_scope
    from knowledge.loader import apply_seed

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    create_schema(url)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with session_scope(url) as s:
        apply_seed(s, seed)
        code = q.lodge_complaint(s, "web:claimed", "服务态度", "柜员态度很差", "139****0001")
        s.add_all(
            [
                m.CallbackNumber(conversation_ref=q.pseudonym("web:claimed"), masked="139****0001", sealed="a" * 50),
                m.CallbackNumber(conversation_ref=q.pseudonym("web:fresh"), masked="139****0002", sealed="b" * 50),
                m.CallbackNumber(
                    conversation_ref=q.pseudonym("web:unclaimed"),
                    masked="139****0003",
                    sealed="c" * 50,
                    created_at=now - dt.timedelta(hours=30),
                ),
            ]
        )
    with session_scope(url) as s:  # the ticket is a year old: past the retention, its number goes too
        s.add(m.CallbackNumber(conversation_ref="old", masked="139****0004", sealed="d" * 50))
        s.flush()
        s.query(m.CallbackNumber).filter_by(conversation_ref="old").update({"created_at": now - dt.timedelta(days=365)})
    assert code
    proc = _started({"ACTION_SERVER_TOKEN": TOKEN, "KNOWLEDGE_DB_URL": url}, _free_port())
    kept = {row[1] for row in _callback_rows(url)}
    proc.terminate()
    proc.wait(timeout=10)
    assert kept == {"139****0001", "139****0002"}


def test_make_purge_deletes_the_same_call_back_numbers(tmp_path, seed):
    import datetime as dt

    from knowledge import models as m
    from knowledge.db import create_schema, session_scope

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    create_schema(url)
    stale = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=2)
    with session_scope(url) as s:
        s.add(m.CallbackNumber(conversation_ref="nobody", masked="139****0005", sealed="e" * 50, created_at=stale))
    done = subprocess.run(
        [sys.executable, "-m", "knowledge", "purge", "--db", url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "deleted 1 " in done.stdout and _callback_rows(url) == []
