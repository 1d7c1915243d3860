"""Complaints followed as tickets: the customer asks for progress by code (details only in the
conversation that filed it) or plainly; staff change the status; older databases gain the columns."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

from rasa_sdk.executor import CollectingDispatcher

from actions.aftersales import ActionLodgeComplaint, ActionTicketStatus
from knowledge import tickets
from knowledge.db import create_schema, session_scope
from tests.actions.conftest import make_tracker, responses


def run(action, tracker, domain) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker, domain))
    return dispatcher


def lodge(domain, sender: str, contact: str = "-") -> str:
    tracker = make_tracker(
        "不用",
        "inform",
        slots={
            "complaint_category": "服务态度",
            "complaint_description": "柜员让我等了一个小时",
            "complaint_contact": contact,
        },
        sender_id=sender,
    )
    said = run(ActionLodgeComplaint(), tracker, domain)
    assert responses(said) == ["utter_complaint_recorded"]
    return said.messages[0]["code"]


def ask(domain, sender: str, text: str) -> CollectingDispatcher:
    return run(ActionTicketStatus(), make_tracker(text, "ask_ticket_status", sender_id=sender), domain)


def test_codes_are_read_however_typed():
    assert tickets.codes_in("我的投诉 ts 261203-a1b2c3 怎么样了") == ["TS261203A1B2C3"]
    assert tickets.codes_in("TS261203A1B2C3和TS261204FFFFFF") == ["TS261203A1B2C3", "TS261204FFFFFF"]
    assert tickets.codes_in("TS2612031A2B3C4") == []  # too long: not a code
    assert tickets.codes_in("卡号6222021234567890123") == []


def test_the_customer_follows_a_ticket_from_open_to_resolved(kb_url, domain):
    sender = f"web:{uuid.uuid4().hex}"
    code = lodge(domain, sender, contact="138****5678")
    said = ask(domain, sender, f"我的投诉{code}处理得怎么样了")
    assert responses(said) == ["utter_ticket_status"]
    assert (said.messages[0]["status"], said.messages[0]["category"]) == ("待处理", "服务态度")

    with session_scope(kb_url) as s:
        row = tickets.set_status(s, code, "resolved", "已约谈当班柜员，向您致歉")
        assert (row.contact_preference, row.updated_at is not None) == ("phone", True)
    said = ask(domain, sender, "投诉进度")  # no code: this conversation's own tickets
    assert responses(said) == ["utter_ticket_status"]
    assert said.messages[0]["status"] == "已办结" and "向您致歉" in said.messages[0]["staff_reply"]


def test_another_conversation_learns_nothing_of_the_ticket(kb_url, domain):
    code = lodge(domain, f"web:{uuid.uuid4().hex}")
    stranger = f"web:{uuid.uuid4().hex}"
    said = ask(domain, stranger, code)
    assert responses(said) == ["utter_ticket_not_yours"]
    assert "柜员" not in str(said.messages) and "服务态度" not in str(said.messages)
    assert responses(ask(domain, stranger, "我的投诉处理到哪了")) == ["utter_no_tickets"]
    assert responses(ask(domain, stranger, "TS990101ABCDEF")) == ["utter_ticket_not_found"]


def test_bad_status_changes_are_refused(kb_url):
    import pytest

    with session_scope(kb_url) as s, pytest.raises(ValueError):
        tickets.set_status(s, "TS990101ABCDEF", "closed")
    with session_scope(kb_url) as s, pytest.raises(LookupError):
        tickets.set_status(s, "TS990101ABCDEF", "resolved")


def test_a_database_of_an_older_release_gains_the_new_columns(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the complaint table as the previous release created it
        db.execute(
            "CREATE TABLE complaint (id INTEGER PRIMARY KEY, code VARCHAR(20) UNIQUE, conversation_ref VARCHAR(64),"
            " category VARCHAR(40), description TEXT, contact VARCHAR(60), created_at DATETIME)"
        )
        db.execute(
            "INSERT INTO complaint VALUES (1, 'TS260101AAAAAA', 'r', '其他', '旧投诉', NULL, '2026-01-01 10:00:00')"
        )
    create_schema(f"sqlite:///{path}")
    create_schema(f"sqlite:///{path}")  # a second time changes nothing
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(complaint)")}
        assert {"status", "contact_preference", "updated_at", "staff_reply"} <= columns
        assert db.execute("SELECT status, description FROM complaint").fetchone() == ("open", "旧投诉")
