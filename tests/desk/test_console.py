"""The staff console's doors: login, sessions that expire, roles, CSRF, and two agents racing
for one customer. The console runs as served (Flask app, real scratch databases); the Rasa
server's desk API is replaced by a recorder here (the browser and WeChat tests use the real one).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from desk import store
from desk.app import create_app
from desk.bridge import Bridge
from knowledge import handoffs as h
from knowledge import models as m
from knowledge import reminders
from knowledge.db import create_schema, session_scope
from knowledge.loader import apply_seed
from tests.desk.test_report import events_table

PASSWORD = "correct horse battery"


class RecordingBridge(Bridge):
    """Stands in for the Rasa server's desk API: records what the console asked of it."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", "t")
        self.calls: list[tuple] = []

    def _post(self, route: str, body: dict) -> dict:
        self.calls.append((route, body))
        return {"ok": True, "reached": True}


@pytest.fixture(scope="module")
def databases(tmp_path_factory, seed):
    work = tmp_path_factory.mktemp("desk")
    kb = f"sqlite:///{work / 'kb.db'}"
    tracker = f"sqlite:///{work / 'tracker.db'}"
    create_schema(kb)
    with session_scope(kb) as s:
        apply_seed(s, seed)
        s.execute(m.DeskSetting.__table__.update().values(opens="00:00", closes="24:00"))
        store.add_user(s, "alice", PASSWORD, "agent", "王敏")
        store.add_user(s, "bob", PASSWORD, "agent", "张伟", ["cards"])
        store.add_user(s, "carol", PASSWORD, "supervisor", "李主管")
    events = events_table()
    engine = create_engine(tracker)
    events.metadata.create_all(engine)
    return kb, tracker, events, engine


@pytest.fixture
def app(databases, monkeypatch):
    kb, tracker, *_ = databases
    monkeypatch.setenv("KNOWLEDGE_DB_URL", kb)
    monkeypatch.setenv("TRACKER_STORE_URL", tracker)
    bridge = RecordingBridge()
    flask_app = create_app({"SECRET_KEY": "x" * 40}, bridge=bridge)
    flask_app.bridge = bridge  # type: ignore[attr-defined]
    return flask_app


def queue_customer(kb: str, department: str = "retail", text: str = "转人工") -> m.Handoff:
    with session_scope(kb) as s:
        handoff, _ = h.open_handoff(
            s,
            f"web:{uuid.uuid4().hex}",
            channel="web",
            department=department,
            reason="customer_asked",
            priority=0,
            summary={"intents": ["ask_fees", "request_human"], "products": ["白金信用卡"], "segment": "retiree"},
        )
        return handoff


def csrf_of(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf[-_]token"[^>]*(?:value|content)="([^"]+)"', page) or re.search(
        r'(?:value|content)="([^"]+)"[^>]*name="csrf[-_]token"', page
    )
    assert match, page[:500]
    return match.group(1)


def logged_in(app, name: str):
    client = app.test_client()
    answer = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    client.csrf = csrf_of(client, "/")  # type: ignore[attr-defined]
    return client


def post(client, path: str, body: dict | None = None, csrf: bool = True):
    headers = {"X-CSRFToken": client.csrf} if csrf else {}
    return client.post(path, data=json.dumps(body or {}), headers=headers, content_type="application/json")


ROUTES = [
    ("GET", "/"),
    ("GET", "/api/me"),
    ("POST", "/api/me/online"),
    ("GET", "/api/queue"),
    ("GET", "/api/handoffs/1"),
    ("POST", "/api/handoffs/1/take"),
    ("POST", "/api/handoffs/1/reply"),
    ("POST", "/api/handoffs/1/notes"),
    ("POST", "/api/handoffs/1/transfer"),
    ("POST", "/api/handoffs/1/resolve"),
    ("GET", "/api/canned"),
    ("GET", "/api/overview"),
    ("GET", "/tickets"),
    ("GET", "/appointments"),
    ("POST", "/appointments/YY990101ABCDEF"),
    ("POST", "/tickets/TS990101ABCDEF"),
    ("GET", "/review"),
    ("POST", "/review"),
    ("POST", "/logout"),
]


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_route_refuses_the_unauthenticated(app, method, path):
    client = app.test_client()
    token = csrf_of(client)  # a valid CSRF token of a session that is not logged in
    answer = client.open(path, method=method, json={}, headers={"X-CSRFToken": token})
    assert answer.status_code == 401, (path, answer.status_code)


def test_wrong_passwords_are_refused_and_then_locked_out(app):
    client = app.test_client()
    for _ in range(5):
        answer = client.post("/login", data={"username": "alice", "password": "nope", "csrf_token": csrf_of(client)})
        assert answer.status_code == 401
    answer = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert answer.status_code == 429  # locked for a while even with the right password
    assert client.get("/api/me").status_code == 401


def test_passwords_are_stored_as_salted_hashes(databases):
    kb, *_ = databases
    with session_scope(kb) as s:
        hashes = [u.password_hash for u in s.scalars(select(m.StaffUser))]
    assert all(x.startswith("scrypt:") and PASSWORD not in x for x in hashes)
    assert len(set(hashes)) == len(hashes)  # salted: the same password, different hashes


def test_roles(app):
    agent, supervisor = logged_in(app, "alice"), logged_in(app, "carol")
    assert agent.get("/api/overview").status_code == 403
    assert agent.post("/review", data={"csrf_token": agent.csrf, "ids": "1", "action": "skip"}).status_code == 403
    overview = supervisor.get("/api/overview")
    assert overview.status_code == 200 and {a["name"] for a in overview.json["agents"]} >= {"alice", "bob"}
    assert isinstance(overview.json["comments"], list)
    for path in ("/api/handoffs/1/take", "/api/handoffs/1/reply", "/api/handoffs/1/resolve", "/api/me/online"):
        assert post(supervisor, path, {"text": "hi"}).status_code == 403, path


def test_supervisors_read_the_latest_rating_comments_masked(app, databases):
    kb, *_ = databases
    with session_scope(kb) as s:
        s.add(m.SatisfactionRating(conversation_ref="ref-c0ffee", score=2, agent="alice", comment="还行"))
        s.flush()
        # stored by an older release without masking: masked on the way out too
        s.add(m.SatisfactionRating(conversation_ref="ref-c0ffee", score=1, comment="卡号6222021234567890123被扣费"))
    comments = logged_in(app, "carol").get("/api/overview").json["comments"]
    assert [(c["score"], c["agent"]) for c in comments[:2]] == [(1, None), (2, "alice")]
    assert comments[0]["comment"].startswith("卡号") and "6222021234567890123" not in comments[0]["comment"]
    assert all("ref-c0ffee" not in str(c) for c in comments)


def test_state_changes_need_the_csrf_token(app, databases):
    agent = logged_in(app, "alice")
    handoff = queue_customer(databases[0])
    assert post(agent, f"/api/handoffs/{handoff.id}/take", csrf=False).status_code == 400
    assert post(agent, "/api/me/online", {"online": True}, csrf=False).status_code == 400
    agent.csrf = "forged"  # type: ignore[attr-defined]
    assert post(agent, f"/api/handoffs/{handoff.id}/take").status_code == 400
    assert app.bridge.calls == []  # type: ignore[attr-defined]
    client = app.test_client()  # the login form too
    assert client.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 400


def test_sessions_expire(databases, monkeypatch):
    kb, tracker, *_ = databases
    monkeypatch.setenv("KNOWLEDGE_DB_URL", kb)
    monkeypatch.setenv("TRACKER_STORE_URL", tracker)
    monkeypatch.setenv("DESK_SESSION_HOURS", str(1.5 / 3600))  # 1.5 seconds
    app = create_app({"SECRET_KEY": "y" * 40}, bridge=RecordingBridge())
    agent = logged_in(app, "alice")
    assert agent.get("/api/me").status_code == 200
    time.sleep(2.5)
    assert agent.get("/api/me").status_code == 401


def test_agents_see_only_their_departments(app, databases):
    kb = databases[0]
    retail, cards = queue_customer(kb, "retail"), queue_customer(kb, "cards")
    bob = logged_in(app, "bob")  # cards only
    waiting = {x["id"] for x in bob.get("/api/queue").json["waiting"]}
    assert cards.id in waiting and retail.id not in waiting
    assert bob.get(f"/api/handoffs/{retail.id}").status_code == 404
    assert post(bob, f"/api/handoffs/{retail.id}/take").status_code == 404


def test_two_agents_taking_the_same_customer_at_once_exactly_one_wins(app, databases):
    kb = databases[0]
    handoff = queue_customer(kb, "cards")
    agents = [logged_in(app, "alice"), logged_in(app, "bob")]
    start = threading.Barrier(len(agents))
    results: list[int] = []

    def take(client) -> None:
        start.wait()
        results.append(post(client, f"/api/handoffs/{handoff.id}/take").status_code)

    threads = [threading.Thread(target=take, args=(c,)) for c in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    assert [c[0] for c in app.bridge.calls] == ["hand_over"]  # type: ignore[attr-defined]
    with session_scope(kb) as s:
        assert s.get(m.Handoff, handoff.id).state == "with_agent"


def test_an_agent_takes_replies_transfers_and_resolves(app, databases):
    kb, _, events, engine = databases
    handoff = queue_customer(kb, "retail")
    with engine.begin() as c:
        for kind, data in (
            ("user", {"event": "user", "text": "<script>alert(1)</script>卡号6222****1234", "timestamp": 1.0}),
            (
                "bot",
                {
                    "event": "bot",
                    "text": "请问还有什么可以帮您",
                    "timestamp": 2.0,
                    "data": {"buttons": [{"title": "转人工客服"}]},
                },
            ),
        ):
            c.execute(
                events.insert().values(
                    sender_id=handoff.conversation_id, type_name=kind, timestamp=1.0, data=json.dumps(data)
                )
            )
    alice = logged_in(app, "alice")
    assert post(alice, f"/api/handoffs/{handoff.id}/reply", {"text": "您好"}).status_code == 409  # not hers yet
    assert post(alice, f"/api/handoffs/{handoff.id}/take").status_code == 200
    seen = alice.get(f"/api/handoffs/{handoff.id}").json
    assert seen["summary"]["segment"] == "退休人士" and seen["summary"]["intents"] == ["费用", "转人工"]
    assert [t["who"] for t in seen["transcript"]] == ["customer", "bot"]
    assert seen["transcript"][0]["text"].startswith("<script>")  # as text: the page shows it as text
    assert seen["transcript"][1]["buttons"] == ["转人工客服"]
    assert alice.get(f"/api/handoffs/{handoff.id}?after={seen['last_id']}").json["transcript"] == []
    assert seen["summary"]["reminders"] == []
    with session_scope(databases[0]) as s:  # the customer asked to be reminded of a maturity
        reminders.add(
            s, handoff.conversation_id, "maturity", "三年定期", dt.datetime(2099, 3, 1), dt.datetime(2099, 1, 1)
        )
    assert alice.get(f"/api/handoffs/{handoff.id}").json["summary"]["reminders"] == [
        "02-26 10:00 提醒到期：三年定期（03-01）"
    ]

    assert post(alice, f"/api/handoffs/{handoff.id}/reply", {"text": "  "}).status_code == 400
    assert post(alice, f"/api/handoffs/{handoff.id}/reply", {"text": "x" * 2001}).status_code == 400
    assert post(alice, f"/api/handoffs/{handoff.id}/reply", {"text": "您好，我是王敏"}).status_code == 200
    assert post(alice, f"/api/handoffs/{handoff.id}/notes", {"text": "客户电话13812345678"}).status_code == 200
    notes = alice.get(f"/api/handoffs/{handoff.id}").json["notes"]
    assert "13812345678" not in notes[0]["text"]
    assert post(alice, f"/api/handoffs/{handoff.id}/resolve").status_code == 200
    assert [c[0] for c in app.bridge.calls] == ["hand_over", "say", "resolve"]  # type: ignore[attr-defined]
    with session_scope(kb) as s:
        done = s.get(m.Handoff, handoff.id)
        assert done.state == "resolved" and done.first_response_at is not None

    second = queue_customer(kb, "retail")
    assert post(alice, f"/api/handoffs/{second.id}/take").status_code == 200
    assert post(alice, f"/api/handoffs/{second.id}/transfer", {"department": "nowhere"}).status_code == 400
    moved = post(alice, f"/api/handoffs/{second.id}/transfer", {"department": "loans"})
    assert moved.status_code == 200 and moved.json["handoff"]["state"] == "waiting"
    assert post(alice, f"/api/handoffs/{second.id}/reply", {"text": "还在吗"}).status_code == 409


def test_the_pages_set_a_strict_content_security_policy(app):
    answer = app.test_client().get("/login")
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    page = logged_in(app, "alice").get("/").get_data(as_text=True)
    assert "<script>" not in page and "onclick" not in page


def test_staff_change_a_ticket_and_the_customer_will_read_it(app, databases):
    kb = databases[0]
    from knowledge import queries as q

    with session_scope(kb) as s:
        code = q.lodge_complaint(s, "web:someone", "收费争议", "莫名被扣年费", "139****1111")
    agent = logged_in(app, "alice")
    page = agent.get("/tickets").get_data(as_text=True)
    assert code in page and "莫名被扣年费" in page and "139****1111" in page
    form = {"status": "in_progress", "staff_reply": "已核实，将退回，联系电话13900001111", "csrf_token": agent.csrf}
    assert agent.post(f"/tickets/{code}", data={**form, "csrf_token": ""}).status_code == 400
    answer = agent.post(f"/tickets/{code}", data=form)
    assert answer.status_code == 302 and f"updated={code}" in answer.headers["Location"]
    assert agent.post(f"/tickets/{code}", data={**form, "status": "closed"}).status_code == 400
    assert agent.post("/tickets/TS990101ABCDEF", data=form).status_code == 404
    with session_scope(kb) as s:
        row = s.scalar(select(m.Complaint).where(m.Complaint.code == code))
        assert row.status == "in_progress" and "13900001111" not in row.staff_reply
    assert "已核实" in agent.get("/tickets?status=in_progress").get_data(as_text=True)


def test_the_call_back_number_opens_for_complaint_handlers_only(app, databases, monkeypatch, caplog):
    import base64
    import os

    from banktext import sealing
    from knowledge import queries as q
    from knowledge import tickets

    kb = databases[0]
    monkeypatch.setenv(sealing.KEY_ENV, base64.urlsafe_b64encode(os.urandom(32)).decode())
    with session_scope(kb) as s:
        code = q.lodge_complaint(s, "web:calls-back", "服务态度", "柜员态度很差", "137****4321")
        tickets.keep_callback_number(s, "web:calls-back", "137****4321", sealing.seal("13712344321"))
        tickets.keep_callback_number(s, "web:someone-else", "137****4321", sealing.seal("13700004321"))
    for name, opens in (("alice", True), ("carol", True), ("bob", False)):  # bob serves cards only
        answer = logged_in(app, name).get("/tickets")
        page = answer.get_data(as_text=True)
        assert code in page and "137****4321" in page
        assert ("13712344321" in page) is opens, name
        assert "13700004321" not in page  # another conversation's number never shows on this ticket
        assert answer.headers["Cache-Control"] == "no-store"
    monkeypatch.setenv(sealing.KEY_ENV, base64.urlsafe_b64encode(os.urandom(32)).decode())  # the wrong key
    assert "13712344321" not in logged_in(app, "carol").get("/tickets").get_data(as_text=True)
    assert "13712344321" not in caplog.text


def test_staff_read_every_intent_of_the_domain_by_name():
    import yaml

    domain = Path(__file__).resolve().parents[2] / "domain.yml"
    intents = yaml.safe_load(domain.read_text(encoding="utf-8"))["intents"]
    unnamed = [i for i in intents if store.intent_name(i) == i]
    assert unnamed == [], f"give these intents a name staff read (desk/store.py): {unnamed}"
    assert store.intent_name("cancel_appointment") == "取消预约" and store.intent_name("ask_fees") == "费用"


def test_branch_staff_see_the_days_appointments_and_the_cancelled_ones(app, databases):
    from knowledge import appointments
    from knowledge import queries as q

    kb = databases[0]
    day = dt.date.today() + dt.timedelta(days=3)
    with session_scope(kb) as s:
        branches = [b.code for b in s.scalars(select(m.Branch).order_by(m.Branch.code)).all()[:2]]
        kept = q.book_appointment(s, "web:one", branches[0], dt.datetime.combine(day, dt.time(10)), "开户/办卡")
        gone = q.book_appointment(s, "web:two", branches[0], dt.datetime.combine(day, dt.time(14)), "大额取现")
        other = q.book_appointment(s, "web:three", branches[1], dt.datetime.combine(day, dt.time(9)), "理财咨询")
        later = q.book_appointment(
            s, "web:four", branches[0], dt.datetime.combine(day, dt.time(9)) + dt.timedelta(days=20), "开户/办卡"
        )
    with session_scope(kb) as s:
        assert (
            appointments.cancel(s, "web:two", gone, dt.datetime.combine(day, dt.time()) - dt.timedelta(days=1)).outcome
            == "cancelled"
        )
    agent = logged_in(app, "alice")
    page = agent.get(f"/appointments?from={day.isoformat()}&days=1").get_data(as_text=True)
    assert kept in page and gone in page and other in page and later not in page
    assert "已取消" in page and "有效预约 2 个（已到店 0，未到店 0），已取消 1 个" in page
    assert page.index(other) < page.index(kept) < page.index(gone)  # by time
    one_branch = agent.get(f"/appointments?from={day.isoformat()}&days=1&branch={branches[0]}").get_data(as_text=True)
    assert kept in one_branch and other not in one_branch
    # a malformed date or span falls back to today and a week
    assert agent.get("/appointments?from=2026-13-45&days=9999").status_code == 200
    assert "网点预约" in agent.get("/").get_data(as_text=True)


def test_branch_staff_record_who_came_and_cancel_for_a_customer(app, databases):
    from knowledge import queries as q
    from knowledge.reminders import BANK_TZ

    kb = databases[0]
    today = dt.datetime.now(BANK_TZ).date()
    ahead = today + dt.timedelta(days=3)
    with session_scope(kb) as s:
        # a branch the other appointment test books nothing at: the counts below are this test's
        branch = s.scalars(select(m.Branch).order_by(m.Branch.code.desc())).first().code
        came = q.book_appointment(s, "web:came", branch, dt.datetime.combine(today, dt.time(0, 0)), "开户/办卡")
        phoned = q.book_appointment(s, "web:phoned", branch, dt.datetime.combine(ahead, dt.time(10)), "大额取现")
    agent = logged_in(app, "alice")
    page = agent.get(f"/appointments?from={today.isoformat()}&days=7&branch={branch}").get_data(as_text=True)
    # today's booking can be marked; one three days ahead can only be cancelled
    row_of = lambda html, code: html[html.index(f'data-code="{code}"') :].split("</tr>")[0]  # noqa: E731
    assert 'value="arrived"' in row_of(page, came) and 'value="cancel"' not in row_of(page, came)
    assert 'value="cancel"' in row_of(page, phoned) and 'value="arrived"' not in row_of(page, phoned)

    form = {"action": "arrived", "from": today.isoformat(), "days": "7", "branch": branch, "csrf_token": agent.csrf}
    assert agent.post(f"/appointments/{came}", data={**form, "csrf_token": ""}).status_code == 400
    answer = agent.post(f"/appointments/{came}", data=form)
    assert answer.status_code == 302 and "result=arrived" in answer.headers["Location"]
    assert f"from={today.isoformat()}" in answer.headers["Location"]  # back to the day being looked at
    assert agent.post(f"/appointments/{phoned}", data={**form, "action": "delete"}).status_code == 400
    answer = agent.post(f"/appointments/{phoned}", data={**form, "action": "cancel"})
    assert answer.status_code == 302 and f"branch={branch}" in answer.headers["Location"]
    assert agent.post("/appointments/YY990101ABCDEF", data=form).status_code == 404
    page = agent.get(answer.headers["Location"]).get_data(as_text=True)
    assert "已代客户取消" in page and "有效预约 1 个（已到店 1，未到店 0），已取消 1 个" in page
    assert "已到店（王敏）" in row_of(page, came) and "王敏 代客户" in row_of(page, phoned)
    with session_scope(kb) as s:
        rows = {a.code: a for a in s.scalars(select(m.Appointment).where(m.Appointment.code.in_([came, phoned])))}
        assert rows[came].attendance == "arrived" and rows[came].handled_by == "alice"
        assert rows[phoned].cancelled_at is not None and rows[phoned].handled_by == "alice"


def test_branch_staff_move_a_booking_for_a_customer_who_asked(app, databases):
    from knowledge import queries as q
    from knowledge.reminders import BANK_TZ

    kb = databases[0]
    today = dt.datetime.now(BANK_TZ).date()
    with session_scope(kb) as s:
        # a branch the other appointment tests book nothing at: the row below is this test's alone
        branch_row = s.scalars(select(m.Branch).order_by(m.Branch.code.desc())).all()[1]
        branch = q.get_branch(s, branch_row.code)
        open_days = [today + dt.timedelta(days=n) for n in range(2, 12)]
        first, second = [d for d in open_days if branch.is_open_at(dt.datetime.combine(d, dt.time(11)))][:2]
        code = q.book_appointment(
            s, "web:asked-to-move", branch.code, dt.datetime.combine(first, dt.time(11)), "大额取现"
        )
    agent = logged_in(app, "alice")
    look = {"from": first.isoformat(), "days": "14", "branch": branch.code}
    page = agent.get("/appointments", query_string=look).get_data(as_text=True)
    row_of = lambda html: html[html.index(f'data-code="{code}"') :].split("</tr>")[0]  # noqa: E731
    assert 'value="move"' in row_of(page) and f'value="{first.isoformat()}T11:00"' in row_of(page)

    form = {**look, "action": "move", "csrf_token": agent.csrf}
    assert agent.post(f"/appointments/{code}", data={**form, "new_time": "", "csrf_token": ""}).status_code == 400
    for new_time, result in (
        ("", "bad_time"),
        ("明天上午", "bad_time"),
        (f"{second.isoformat()}T03:00", "branch_closed"),
    ):
        answer = agent.post(f"/appointments/{code}", data={**form, "new_time": new_time})
        assert answer.status_code == 302 and f"result={result}" in answer.headers["Location"], new_time
    answer = agent.post(f"/appointments/{code}", data={**form, "new_time": f"{second.isoformat()}T14:30"})
    assert answer.status_code == 302 and "result=move" in answer.headers["Location"]
    assert f"branch={branch.code}" in answer.headers["Location"]  # back to what was being looked at
    page = agent.get(answer.headers["Location"]).get_data(as_text=True)
    assert "已改期，预约号不变" in page
    assert f"王敏 改期，原定 {first:%m-%d} 11:00" in row_of(page) and f"{second:%m-%d} 14:30" in row_of(page)
    with session_scope(kb) as s:
        row = s.scalar(select(m.Appointment).where(m.Appointment.code == code))
        assert row.starts_at == dt.datetime.combine(second, dt.time(14, 30)) and row.handled_by == "alice"
        assert row.moved_from == dt.datetime.combine(first, dt.time(11))
