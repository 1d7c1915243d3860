"""Reminders the customer opts in to: set from the offer or from one message, refused politely,
listed, cancelled, and said once when their time comes."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import handling
from actions import reminders as actions
from knowledge import models as m
from knowledge import reminders as r
from knowledge.db import session_scope
from tests.actions.conftest import make_tracker, responses, slots_set

NOW = dt.datetime(2026, 12, 3, 15, 0)  # Beijing


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(handling, "now_local", lambda: NOW)


@pytest.fixture
def sender() -> str:
    return f"web:{uuid.uuid4().hex}"


async def run(action, tracker, domain) -> tuple[CollectingDispatcher, list]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return dispatcher, events


def stored(sender: str) -> list[m.Reminder]:
    with session_scope() as s:
        return list(s.scalars(select(m.Reminder).where(m.Reminder.conversation_id == sender).order_by(m.Reminder.id)))


async def test_a_maturity_named_in_one_message(domain, sender):
    text = "我的三年定期2027年3月1日到期，到时候提醒我"
    said, events = await run(actions.ActionSetReminder(), make_tracker(text, "set_reminder", sender_id=sender), domain)
    assert responses(said) == ["utter_reminder_set_maturity"]
    assert said.messages[0]["subject"] == "三年定期" and said.messages[0]["date"].startswith("3月1日")
    assert said.messages[0]["remind_when"].startswith("2月26日") and "10:00" in said.messages[0]["remind_when"]
    [row] = stored(sender)
    assert (row.kind, row.status, row.subject) == ("maturity", "pending", "三年定期")
    assert row.remind_at == dt.datetime(2027, 2, 26, 2, 0)  # 10:00 in Beijing
    assert slots_set(events) == {"reminder_offer": None}
    # asked again: kept once
    said, _ = await run(actions.ActionSetReminder(), make_tracker(text, "set_reminder", sender_id=sender), domain)
    assert responses(said) == ["utter_reminder_already_set"] and len(stored(sender)) == 1


@pytest.mark.parametrize(
    "text,response",
    [
        ("我的定期2025年3月1日到期，提醒我", "utter_reminder_past"),
        ("我的定期12月4日到期，到时候提醒我", "utter_reminder_too_soon"),
        ("我的大额存单2028年3月1日到期，到时候提醒我", "utter_reminder_too_far"),
        ("提醒我", "utter_reminder_ask_what"),
    ],
)
async def test_reminders_that_cannot_be_set_are_refused_politely(domain, sender, text, response):
    said, _ = await run(actions.ActionSetReminder(), make_tracker(text, "set_reminder", sender_id=sender), domain)
    assert responses(said) == [response] and stored(sender) == []


async def test_the_reminder_offered_after_a_booking(domain, sender):
    dispatcher = CollectingDispatcher()
    events = actions.appointment_offer(dispatcher, dt.datetime(2026, 12, 10, 14, 30), "云澜银行北京国贸支行")
    assert responses(dispatcher) == ["utter_offer_appointment_reminder"]
    tracker = make_tracker("/set_reminder", "set_reminder", slots=slots_set(events), sender_id=sender)
    said, _ = await run(actions.ActionSetReminder(), tracker, domain)
    assert responses(said) == ["utter_reminder_set_appointment"]
    assert said.messages[0]["subject"] == "云澜银行北京国贸支行" and "09:00" in said.messages[0]["remind_when"]
    [row] = stored(sender)
    assert (row.kind, row.event_at, row.remind_at) == (
        "appointment",
        dt.datetime(2026, 12, 10, 6, 30),
        dt.datetime(2026, 12, 9, 1, 0),
    )
    # booked for within two hours: no offer, there is no time to remind
    dispatcher = CollectingDispatcher()
    assert actions.appointment_offer(dispatcher, NOW + dt.timedelta(minutes=90), "国贸支行") == []
    assert dispatcher.messages == []


def test_a_maturity_question_with_a_date_gets_an_offer(domain):
    dispatcher = CollectingDispatcher()
    w = actions.Wording(domain)
    events = actions.maturity_offer(
        dispatcher, w, make_tracker("我的大额存单明年3月1号到期怎么办", "ask_maturity"), "大额存单"
    )
    assert responses(dispatcher) == ["utter_offer_maturity_reminder"]
    assert json.loads(slots_set(events)["reminder_offer"])["event"] == "2027-03-01T00:00:00"
    dispatcher = CollectingDispatcher()
    assert actions.maturity_offer(dispatcher, w, make_tracker("利率3.5的定期到期怎么办", "ask_maturity"), "定期") == []


def test_what_the_customer_names_is_stored_masked():
    words = actions.product_words("我的定期（卡号6222021234567890123）2027年3月1日到期，到时候提醒我")
    assert "6222021234567890123" not in words and words.startswith("定期")


async def test_opting_out_cancels_every_waiting_reminder(domain, sender):
    for text in ("我的三年定期2027年3月1日到期，到时候提醒我", "我的大额存单2027年4月1日到期，提醒我"):
        await run(actions.ActionSetReminder(), make_tracker(text, "set_reminder", sender_id=sender), domain)
    said, _ = await run(
        actions.ActionListReminders(), make_tracker("我设了哪些提醒", "list_reminders", sender_id=sender), domain
    )
    assert responses(said) == ["utter_reminders_list"] and said.messages[0]["count"] == 2
    assert "三年定期" in said.messages[0]["reminders"] and "大额存单" in said.messages[0]["reminders"]
    said, _ = await run(
        actions.ActionCancelReminders(), make_tracker("取消提醒", "cancel_reminder", sender_id=sender), domain
    )
    assert responses(said) == ["utter_reminders_cancelled"] and said.messages[0]["count"] == 2
    assert [row.status for row in stored(sender)] == ["cancelled", "cancelled"]
    said, _ = await run(
        actions.ActionCancelReminders(), make_tracker("不要提醒我了", "cancel_reminder", sender_id=sender), domain
    )
    assert responses(said) == ["utter_no_reminders"]


async def test_due_reminders_are_said_once(domain, sender):
    await run(
        actions.ActionSetReminder(),
        make_tracker("我的三年定期2027年3月1日到期，到时候提醒我", "set_reminder", sender_id=sender),
        domain,
    )
    deliver = make_tracker("", "", sender_id=sender)
    said, _ = await run(actions.ActionDeliverReminders(), deliver, domain)
    assert said.messages == []  # not claimed: not yet due
    with session_scope() as s:
        row_id = stored(sender)[0].id
        assert row_id in r.due_ids(s, dt.datetime(2027, 2, 26, 2, 0)) and r.claim(s, row_id)
    said, _ = await run(actions.ActionDeliverReminders(), deliver, domain)
    assert responses(said) == ["utter_reminder_maturity"]
    assert said.messages[0]["subject"] == "三年定期" and said.messages[0]["date"].startswith("3月1日")
    assert stored(sender)[0].status == "sent"
    said, _ = await run(actions.ActionDeliverReminders(), deliver, domain)
    assert said.messages == []
