"""The quality view (``python -m desk report`` and the console's ``/report``) on scratch databases
with known rows: the counts and rates it shows, knowledge gaps grouped by similarity, an empty
database, no conversation id anywhere on the page, and who may open it in the console.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine

from desk import report, store
from desk.__main__ import main
from desk.app import create_app
from desk.bridge import Bridge
from knowledge import handoffs as h
from knowledge import models as m
from knowledge.db import create_schema, get_engine, session_scope
from knowledge.loader import apply_seed

PASSWORD = "correct horse battery"
#: 14:00 in Beijing on 3 December: the window of 7 days is 27 November to 3 December.
NOW = dt.datetime(2026, 12, 3, 6, 0)
DAYS = 7
CONVERSATIONS = ["web:1f3a9c0d7e5b4a62", "wechat:oX9dK2pQ7vLm", "rest:app-7781", "web:5d8e2b1c9a0f4e37"]
A, B, C, D = CONVERSATIONS


def utc(day: int, hour: int = 2, month: int = 12) -> dt.datetime:
    """A naive UTC time on a day of the window (02:00 UTC is 10:00 in Beijing)."""
    return dt.datetime(2026, month, day, hour, 0)


def user_event(sender: str, at: dt.datetime, text: str, intent: str, product_types: tuple[str, ...] = ()) -> dict:
    entities = [{"entity": "product_type", "value": kind, "start": 0, "end": 2} for kind in product_types]
    timestamp = at.replace(tzinfo=dt.timezone.utc).timestamp()
    data = {
        "event": "user",
        "timestamp": timestamp,
        "text": text,
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": entities, "text": text},
        "input_channel": sender.split(":")[0],
    }
    return {
        "sender_id": sender,
        "type_name": "user",
        "timestamp": timestamp,
        "intent_name": intent,
        "action_name": None,
        "data": json.dumps(data, ensure_ascii=False),
    }


def fallback_action(sender: str, at: dt.datetime) -> dict:
    """The bot asking to rephrase (action_handle_fallback), as the tracker store keeps it."""
    timestamp = at.replace(tzinfo=dt.timezone.utc).timestamp() + 1
    data = {"event": "action", "timestamp": timestamp, "name": "action_handle_fallback"}
    return {
        "sender_id": sender,
        "type_name": "action",
        "timestamp": timestamp,
        "intent_name": None,
        "action_name": "action_handle_fallback",
        "data": json.dumps(data),
    }


#: The customers' messages: 4 conversations in the window (2 on 2 December, 2 on 3 December).
EVENTS = [
    user_event(A, utc(3), "你好", "greet"),
    user_event(A, utc(3), "信用卡年费多少", "ask_fees", ("credit_card",)),
    user_event(A, utc(3), '/request_human{"x": 1}', "request_human"),  # a button: not in the rates
    user_event(B, utc(3, 4), "asdfgh", "nlu_fallback"),
    fallback_action(B, utc(3, 4)),  # the answer to the nlu_fallback: not counted twice
    user_event(B, utc(3, 4), "今天天气怎么样", "out_of_scope"),
    user_event(C, utc(2), "大额存单利率多少", "ask_interest_rate", ("certificate_of_deposit",)),
    user_event(C, utc(2), "定期和大额存单哪个好", "compare_products", ("time_deposit", "certificate_of_deposit")),
    user_event(D, utc(2, 20), "qwerty", "nlu_fallback"),  # 04:00 on 3 December in Beijing
    user_event(D, utc(2, 21), "6666", "inform"),  # a form answer outside any form: no rule answers it
    fallback_action(D, utc(2, 21)),
    user_event("web:old0000000000", utc(20, month=10), "你好", "greet"),  # before the window
    user_event("web:old0000000000", utc(4, 3), "asdf", "nlu_fallback"),  # after it (11:00 on 4 December)
]
UNANSWERED = [
    "你们能帮我买股票吗",
    "能不能帮我买股票",
    "帮我买只股票",
    "比特币怎么买",
    "比特币能买吗",
    "今天天气怎么样",
    "卡号6222 0212 3456 7890 123是哪个网点开的",
]


def events_table() -> Table:
    """Rasa's events table, as its SQLTrackerStore creates it."""
    return Table(
        "events",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("sender_id", String(255)),
        Column("type_name", String(255)),
        Column("timestamp", Float),
        Column("intent_name", String(255)),
        Column("action_name", String(255)),
        Column("data", Text),
    )


def handoff(s, conversation: str, reason: str, state: str, department: str, at: dt.datetime) -> m.Handoff:
    row, _ = h.open_handoff(
        s, conversation, channel="web", department=department, reason=reason, priority=0, summary={}, state=state
    )
    row.created_at = at
    return row


#: A comment as stored by an older release, unmasked, with markup: the page masks and escapes it.
COMMENT = "等了40分钟<b>没人管</b>，卡号6222021234567890123"


@pytest.fixture(scope="module")
def databases(tmp_path_factory, seed):
    work = tmp_path_factory.mktemp("report")
    kb, tracker = f"sqlite:///{work / 'kb.db'}", f"sqlite:///{work / 'tracker.db'}"
    create_schema(kb)
    with session_scope(kb) as s:
        apply_seed(s, seed)
        store.add_user(s, "alice", PASSWORD, "agent", "王敏")
        store.add_user(s, "carol", PASSWORD, "supervisor", "李主管")
        handoff(s, A, "customer_asked", "waiting", "retail", utc(3))
        handoff(s, B, "not_understood", "message", "cards", utc(3, 5))
        handoff(s, "web:old0000000000", "complaint", "resolved", "complaints", utc(20, month=10))
        for score, day, comment in ((5, 2, None), (4, 2, "回答很清楚"), (1, 3, COMMENT)):
            s.add(
                m.SatisfactionRating(conversation_ref="ref-9f2c4e71", score=score, created_at=utc(day), comment=comment)
            )
        s.add(
            m.SatisfactionRating(
                conversation_ref="ref-9f2c4e71", score=2, created_at=utc(20, month=10), comment="十月的留言"
            )
        )
        for code, category, at, status in (
            ("TS1", "服务态度", utc(2), "open"),
            ("TS2", "服务态度", utc(3), "in_progress"),
            ("TS3", "收费争议", utc(3), "open"),
            ("TS4", "其他", utc(20, month=10), "resolved"),  # resolved: not open any more
            ("TS5", "其他", utc(21, month=11), "resolved"),
        ):
            s.add(
                m.Complaint(
                    code=code,
                    conversation_ref="ref-b3d8a605",
                    category=category,
                    description="…",
                    created_at=at,
                    status=status,
                )
            )
        for text in UNANSWERED:
            s.add(
                m.UnansweredQuestion(conversation_ref="ref-c7e1f9d2", text=text, reason="fallback", created_at=utc(3))
            )
        s.add(
            m.UnansweredQuestion(
                conversation_ref="ref-c7e1f9d2", text="去年的问题", reason="fallback", created_at=utc(1, month=9)
            )
        )
    table = events_table()
    engine = create_engine(tracker)
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), EVENTS)
    return kb, tracker


@pytest.fixture(scope="module")
def stats(databases) -> report.Stats:
    kb, tracker = databases
    with session_scope(kb) as s:
        return report.collect(s, get_engine(tracker), DAYS, NOW)


def test_the_window_is_the_banks_days(stats):
    assert stats.days[0] == dt.date(2026, 11, 27) and stats.days[-1] == dt.date(2026, 12, 3)
    assert len(stats.days) == DAYS


def test_conversations_per_day(stats):
    # D wrote at 20:00 UTC on 2 December: 04:00 on 3 December in Beijing
    assert stats.conversations == {dt.date(2026, 12, 2): 1, dt.date(2026, 12, 3): 3}
    assert stats.conversations_total == 4  # the conversation of October is outside the window


def test_intents_and_product_types_asked(stats):
    assert stats.intents == {
        "ask_fees": 1,
        "request_human": 1,  # pressed as a button: still what the customer asked for
        "ask_interest_rate": 1,
        "compare_products": 1,
        "out_of_scope": 1,
    }  # greetings are said, not asked; nlu_fallback has its own chart
    assert stats.product_types == {"credit_card": 1, "certificate_of_deposit": 2, "time_deposit": 1}
    assert stats.product_type_names["certificate_of_deposit"] == "大额存单"  # from the catalogue


def test_fallback_and_out_of_scope_rates(stats):
    assert stats.messages_total == 8  # typed messages: the button press is not one
    # read as nlu_fallback (2), or answered with a request to rephrase after another intent (1)
    assert stats.fallback_rate == pytest.approx(3 / 8)
    assert stats.out_of_scope_rate == pytest.approx(1 / 8)
    assert stats.fallbacks == {dt.date(2026, 12, 3): 3}


def test_handoff_rate_and_reasons(stats):
    assert stats.handoff_conversations == 2
    assert stats.handoff_rate == pytest.approx(0.5)
    assert stats.handoff_reasons == {"customer_asked": 1, "not_understood": 1}


def test_satisfaction_over_time(stats):
    assert stats.ratings == {dt.date(2026, 12, 2): [5, 4], dt.date(2026, 12, 3): [1]}
    assert stats.mean_rating == pytest.approx(10 / 3)


def test_rating_comments_are_listed_with_their_score_masked(stats):
    assert [(c.day, c.score) for c in stats.comments] == [(dt.date(2026, 12, 3), 1), (dt.date(2026, 12, 2), 4)]
    assert "6222021234567890123" not in stats.comments[0].text and stats.comments[0].text.startswith("等了40分钟")
    page = report.render(stats, generated=NOW)
    table = re.search(r'<table class="gaps comments" id="comments-table">(.*?)</table>', page, re.S)[1]
    assert "回答很清楚" in table and "1 分" in table and "4 分" in table
    assert "&lt;b&gt;没人管&lt;/b&gt;" in table and "<b>" not in table  # shown as typed, never as markup
    assert "十月的留言" not in page  # outside the window
    assert "最近 2 条评价留言" in page


def test_open_tickets(stats):
    assert stats.complaints == {"服务态度": 2, "收费争议": 1}  # every complaint not resolved, of any day
    assert stats.messages_left == {"银行卡": 1}  # handoffs left as messages, by department
    assert stats.open_tickets == 4


def test_similar_unanswered_questions_are_one_knowledge_gap(stats):
    assert stats.unanswered_total == len(UNANSWERED)
    sizes = [g.size for g in stats.gaps]
    assert sizes == [3, 2, 1, 1]
    stock, bitcoin = stats.gaps[0], stats.gaps[1]
    assert {stock.representative, *stock.examples} == {"你们能帮我买股票吗", "能不能帮我买股票", "帮我买只股票"}
    assert {bitcoin.representative, *bitcoin.examples} == {"比特币怎么买", "比特币能买吗"}
    assert stock.reasons == ["没听懂"]
    card = next(g for g in stats.gaps if "网点" in g.representative)
    assert "6222021234567890123" not in card.representative.replace(" ", "")  # masked again on the way out


@pytest.mark.parametrize(
    "questions,groups",
    [
        (["密码忘了怎么办", "密码忘记了怎么办", "密碼忘了怎麼辦"], 1),  # Traditional script too
        (["怎么查征信报告", "征信报告在哪里查", "给我讲个笑话"], 2),
        (["信用卡年费多少", "房贷怎么申请", "比特币能买吗"], 3),
    ],
)
def test_grouping_by_character_ngrams(questions, groups):
    found = report.group_questions(questions)
    assert len(found) == groups
    assert sum(g.size for g in found) == len(questions)
    assert all(len(g.examples) <= 3 for g in found)


def test_a_question_is_shown_as_typed_never_as_markup():
    stats = report.Stats(days=[dt.date(2026, 12, 3)])
    stats.gaps = report.group_questions(['<a href="https://phish.example">点我领奖</a><b>快</b>'])
    stats.unanswered_total = 1
    page = report.render(stats, standalone=False, generated=NOW)  # the page without plotly.js inside
    assert "<a href" not in page and "<b>" not in page  # the table: escaped by the template
    label = json.loads(re.search(r'id="report-data">(.*?)</script>', page, re.S)[1])["gaps"]["data"][0]["y"][0]
    assert label.startswith("1. &lt;a href=") and "<" not in label  # the chart: plotly.js shows it as text


def test_the_page_shows_the_numbers_and_no_conversation_id(stats):
    page = report.render(stats, generated=NOW)
    for figure in ("37.5%", "50.0%", "3.33 分"):
        assert figure in page
    for title in ("每日会话量", "客户在问什么（意图）", "转人工的原因", "知识缺口", "客户满意度", "待处理：投诉与留言"):
        assert title in page
    assert "大额存单" in page and "费用" in page and "客户要求转人工" in page
    assert "你们能帮我买股票吗" in page
    for conversation in [*CONVERSATIONS, "web:old0000000000", "ref-9f2c4e71", "ref-b3d8a605", "ref-c7e1f9d2"]:
        key = conversation.split(":")[-1]
        assert key not in page, key
    assert "6222021234567890123" not in page.replace(" ", "")
    assert "暂无数据" not in page and "还没有数据" not in page


def test_the_standalone_page_works_offline(stats):
    page = report.render(stats, generated=NOW)
    assert "plotly.js v" in page[:20000] or "plotly.js v" in page  # the library is inside the page
    assert not re.search(r"<script[^>]+src=", page)  # nothing to fetch, no CDN
    assert not re.search(r"<link[^>]+href=", page)
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)[1])
    assert set(data) == {c.key for c in report.charts(stats)}
    assert data["conversations"]["data"][0]["y"][-2:] == [1, 3]


def test_an_empty_database_gives_a_readable_report(tmp_path):
    kb, tracker = f"sqlite:///{tmp_path / 'kb.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
    with session_scope(kb) as s:  # not even the tables: nothing has been stored yet
        stats = report.collect(s, get_engine(tracker), DAYS, NOW)
    assert not stats.has_data
    page = report.render(stats, generated=NOW)
    assert "还没有数据" in page and page.count("暂无数据") == len(report.charts(stats))
    assert json.loads(re.search(r'id="report-data">(.*?)</script>', page, re.S)[1]) == {}


def test_the_command_writes_the_file(databases, tmp_path, monkeypatch, capsys):
    kb, tracker = databases
    monkeypatch.setenv("KNOWLEDGE_DB_URL", kb)
    monkeypatch.setenv("TRACKER_STORE_URL", tracker)
    out = tmp_path / "sub" / "report.html"
    assert main(["report", "--out", str(out), "--days", "3650"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "服务质量报告" in page and "近3650天" in page
    assert str(out) in capsys.readouterr().out
    assert main(["report", "--out", str(out), "--days", "0"]) == 1


# --- the same view in the console -------------------------------------------------------------


@pytest.fixture
def app(databases, monkeypatch):
    kb, tracker = databases
    monkeypatch.setenv("KNOWLEDGE_DB_URL", kb)
    monkeypatch.setenv("TRACKER_STORE_URL", tracker)
    return create_app({"SECRET_KEY": "r" * 40}, bridge=Bridge("http://127.0.0.1:9", "t"))


def logged_in(app, name: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    answer = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token[1]})
    assert answer.status_code == 302
    return client


@pytest.mark.parametrize("path", ["/report", "/report/plotly.min.js", "/report/plotly.css"])
def test_the_console_report_is_for_supervisors_only(app, path):
    assert app.test_client().get(path).status_code == 401
    assert logged_in(app, "alice").get(path).status_code == 403


def test_supervisors_open_the_report_under_the_consoles_policy(app):
    supervisor = logged_in(app, "carol")
    assert 'href="/report"' in supervisor.get("/").get_data(as_text=True)  # the link on their page
    answer = supervisor.get("/report?days=3650")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert "script-src 'self';" in answer.headers["Content-Security-Policy"]  # no inline script allowed
    page = answer.get_data(as_text=True)
    assert "服务质量报告" in page and "转人工率" in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    # only files of the desk, and the chart data as a JSON block the browser does not execute
    assert [attrs.strip() for attrs, _ in scripts] == [
        'type="application/json" id="report-data"',
        'src="/report/plotly.min.js"',
        'src="/static/report.js"',
    ]
    assert "style=" not in page  # style-src 'self': no inline styles either
    library = supervisor.get("/report/plotly.min.js")
    assert library.status_code == 200 and library.mimetype == "text/javascript"
    assert b"plotly.js v" in library.data[:200]
    assert supervisor.get("/static/report.js").status_code == 200
    # plotly.js's own style rules as a file: it is told not to add a <style> the CSP would refuse
    assert 'id="plotly.js-style-global" class="no-inline-styles"' in page
    styles = supervisor.get("/report/plotly.css")
    assert styles.status_code == 200 and styles.mimetype == "text/css"
    assert ".js-plotly-plot .plotly .main-svg {" in styles.get_data(as_text=True)
