"""The reminder scheduler of the staff desk, against a stand-in for the Rasa server's desk API:
each reminder said once with two schedulers at work, put back when the Rasa server cannot be
reached, given up after the last attempt. (The real servers: tests/channels/test_reminders_e2e.py.)"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import uuid

import pytest

from desk import reminders as scheduler
from desk.bridge import BridgeError
from knowledge import reminders as r
from knowledge.db import create_schema, session_scope

NOW = dt.datetime(2027, 1, 1, 12, 0)
LATER = dt.datetime(2027, 3, 1)


@pytest.fixture(autouse=True)
def kb(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / f'kb-{uuid.uuid4().hex}.db'}"
    monkeypatch.setenv("KNOWLEDGE_DB_URL", url)
    create_schema(url)
    return url


class RasaServer:
    """What ``POST /webhooks/desk/remind`` does: run action_deliver_reminders (mark sent, say)."""

    def __init__(self, down: bool = False, action_fails: bool = False) -> None:
        self.down, self.action_fails = down, action_fails
        self.said: collections.Counter[int] = collections.Counter()
        self.lock = threading.Lock()

    def remind(self, conversation_id: str) -> dict:
        if self.down:
            raise BridgeError("remind")
        if self.action_fails:
            return {"ok": True, "said": 0, "reached": False}
        with session_scope() as s:
            sent = [row.id for row in r.due_of(s, conversation_id) if r.mark_sent(s, row.id)]
        with self.lock:
            self.said.update(sent)
        return {"ok": True, "said": len(sent), "reached": True}


def _reminders(count: int) -> list[int]:
    with session_scope() as s:
        return [
            r.add(s, f"c{i % 7}", "maturity", "三年定期", dt.datetime(2027, 2, 1) + dt.timedelta(days=i), NOW)[0].id
            for i in range(count)
        ]


def test_two_schedulers_say_each_reminder_once():
    ids = _reminders(30)
    server = RasaServer()
    start = threading.Barrier(2)

    def one_scheduler() -> None:
        start.wait()
        scheduler.run_once(server, LATER)  # type: ignore[arg-type]

    threads = [threading.Thread(target=one_scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(server.said) == sorted(ids) and set(server.said.values()) == {1}
    with session_scope() as s:
        assert r.counts(s) == {"sent": 30}
    assert scheduler.run_once(server, LATER).claimed == 0  # nothing left


def test_a_rasa_server_that_cannot_be_reached_is_tried_again_then_given_up():
    [row_id] = _reminders(1)
    down = RasaServer(down=True)
    at = LATER
    for attempt in range(1, r.MAX_ATTEMPTS + 1):
        done = scheduler.run_once(down, at)  # type: ignore[arg-type]
        assert done.claimed == 1 and done.said == 0
        assert (done.retried, done.failed) == ((1, 0) if attempt < r.MAX_ATTEMPTS else (0, 1))
        assert scheduler.run_once(down, at).claimed == 0  # type: ignore[arg-type]  # waits before the next try
        at += r.RETRY_AFTER * attempt
    with session_scope() as s:
        assert r.counts(s) == {"failed": 1}


def test_reminders_the_action_did_not_say_wait_again():
    [row_id] = _reminders(1)
    assert scheduler.run_once(RasaServer(action_fails=True), LATER).retried == 1  # type: ignore[arg-type]
    server = RasaServer()
    done = scheduler.run_once(server, LATER + r.RETRY_AFTER)  # type: ignore[arg-type]
    assert (done.said, done.retried, dict(server.said)) == (1, 0, {row_id: 1})


def test_the_desk_command_runs_one_pass(monkeypatch, capsys):
    from desk.__main__ import main

    monkeypatch.setattr("desk.bridge.Bridge.remind", lambda self, conversation: {"said": 0, "reached": False})
    assert main(["reminders", "--once"]) == 0
    assert "reminders: 0 due" in capsys.readouterr().out
