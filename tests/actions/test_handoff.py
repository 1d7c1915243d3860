"""Handing a conversation to a person: the queue, departments, priorities, hours, cancelling,
leaving a message, and the 1-5 rating afterwards (actions on a real scratch knowledge base)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select, update

from actions.aftersales import ActionAskSatisfaction, ActionHandoffToHuman, ActionRateService
from knowledge import handoffs as h
from knowledge import models as m
from knowledge.db import session_scope
from tests.actions.conftest import ent, make_tracker, responses


@pytest.fixture
def desk_hours(kb_url):
    """Set the desk's opening hours for a test; the seed's hours come back after it."""

    def set_hours(opens: str, closes: str) -> None:
        with session_scope(kb_url) as s:
            s.execute(update(m.DeskSetting).values(opens=opens, closes=closes))

    with session_scope(kb_url) as s:
        setting = s.scalar(select(m.DeskSetting))
        before = (setting.opens, setting.closes)
    set_hours("00:00", "24:00")
    yield set_hours
    set_hours(*before)


@pytest.fixture(autouse=True)
def empty_queue(kb_url):
    with session_scope(kb_url) as s:
        s.execute(update(m.Handoff).where(m.Handoff.state.in_(("waiting", "message"))).values(state="cancelled"))
    yield


def user(text: str, intent: str, entities: list | None = None) -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": entities or []}}


def bot(template: str) -> dict:
    return {"event": "bot", "text": "…", "metadata": {"utter_action": template}}


def slot(name: str, value) -> dict:
    return {"event": "slot", "name": name, "value": value}


def run(action, tracker, domain) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker, domain))
    return dispatcher


def ask_for_person(domain, text="转人工", events=None, slots=None, entities=None, sender=None):
    sender = sender or f"web:{uuid.uuid4().hex}"
    tracker = make_tracker(text, "request_human", entities, slots=slots, events=events, sender_id=sender)
    return sender, run(ActionHandoffToHuman(), tracker, domain)


def handoff_of(kb_url, sender) -> m.Handoff | None:
    with session_scope(kb_url) as s:
        return h.latest_handoff_of(s, sender)


def test_a_customer_is_queued_with_place_wait_and_a_way_to_cancel(kb_url, domain, desk_hours):
    first, said = ask_for_person(domain)
    assert responses(said) == ["utter_handoff_queued"]
    message = said.messages[0]
    assert message["ahead"] == 0 and message["minutes"] >= 1 and message["code"].startswith("RG")
    queued = handoff_of(kb_url, first)
    assert (queued.state, queued.department, queued.reason, queued.priority) == (
        "waiting",
        "retail",
        "customer_asked",
        0,
    )

    second, said = ask_for_person(domain, "帮我转人工客服")
    assert said.messages[0]["ahead"] == 1  # one customer ahead, in the same department
    assert said.messages[0]["minutes"] > message["minutes"] - 1

    # the queue button and the typed words both cancel
    _, said = ask_for_person(domain, "", sender=first, entities=[ent("handoff_mode", "cancel")])
    assert responses(said) == ["utter_handoff_cancelled"]
    assert handoff_of(kb_url, first).state == "cancelled"
    _, said = ask_for_person(domain, "取消转人工吧，不等了", sender=second)
    assert responses(said) == ["utter_handoff_cancelled"]
    _, said = ask_for_person(domain, "", sender=second, entities=[ent("handoff_mode", "cancel")])
    assert responses(said) == ["utter_handoff_nothing_to_cancel"]


def test_elderly_customers_and_repeated_requests_go_first(kb_url, domain, desk_hours):
    ask_for_person(domain)
    ask_for_person(domain)
    elderly, said = ask_for_person(domain, "我是老年人，眼神不好，帮我转人工")
    assert said.messages[0]["ahead"] == 0
    assert handoff_of(kb_url, elderly).priority == h.PRIORITY_ELDERLY
    assert handoff_of(kb_url, elderly).summary["elderly"] is True

    asked_before = [user("转人工", "request_human"), bot("utter_handoff_queued")]
    repeat, _ = ask_for_person(domain, events=asked_before)
    again, said = ask_for_person(domain, "怎么还没人，快转人工", events=asked_before, sender=repeat)
    with session_scope(kb_url) as s:
        rows = s.scalars(select(m.Handoff).where(m.Handoff.conversation_id == repeat)).all()
    assert len(rows) == 1, "asking again keeps one place in the queue"
    assert (rows[0].priority, rows[0].reason) == (h.PRIORITY_REPEATED, "asked_repeatedly")
    assert said.messages[0]["ahead"] == 1  # behind the elderly customer only


def test_the_department_and_summary_come_from_the_conversation(kb_url, domain, desk_hours):
    card_talk = [
        user("白金信用卡年费多少", "ask_fees", [ent("product_type", "credit_card")]),
        slot("product_type", "credit_card"),
        slot("segment", "young_professional"),
    ]
    sender, _ = ask_for_person(domain, events=card_talk, slots={"segment": "young_professional"})
    handoff = handoff_of(kb_url, sender)
    assert handoff.department == "cards"
    assert handoff.summary["intents"] == ["ask_fees", "request_human"]
    assert handoff.summary["segment"] == "young_professional"

    complaint = [user("我要投诉", "complain"), bot("utter_complaint_recorded")]
    sender, _ = ask_for_person(domain, events=card_talk + complaint)
    assert (handoff_of(kb_url, sender).department, handoff_of(kb_url, sender).reason) == ("complaints", "complaint")

    not_understood = [user("啊这个那个", "nlu_fallback"), bot("utter_offer_human")]
    sender, _ = ask_for_person(domain, events=not_understood)
    assert handoff_of(kb_url, sender).reason == "not_understood"

    inheritance = [user("家人去世了存款怎么办", "faq"), bot("utter_faq/deceased_account_inheritance")]
    sender, _ = ask_for_person(domain, events=inheritance + [bot("utter_offer_specialist")])
    assert handoff_of(kb_url, sender).reason == "specialist"

    wealth = [slot("product_code", "WM-EQUITY"), slot("acknowledged_products", ["WM-EQUITY"])]
    sender, _ = ask_for_person(domain, events=wealth, slots={"acknowledged_products": ["WM-EQUITY"]})
    handoff = handoff_of(kb_url, sender)
    assert handoff.department == "wealth"
    assert handoff.summary["disclosures"] and "WM-EQUITY" not in handoff.summary["disclosures"]


def test_outside_hours_the_customer_may_leave_a_message(kb_url, domain, desk_hours):
    now = dt.datetime.now(h.BANK_TZ)
    closed_since = (now - dt.timedelta(minutes=2)).strftime("%H:%M")
    if closed_since >= now.strftime("%H:%M") or closed_since == "00:00":
        pytest.skip("too close to midnight to close the desk before now")
    desk_hours("00:00", closed_since)
    sender, said = ask_for_person(domain)
    assert responses(said) == ["utter_handoff_closed"]
    assert said.messages[0]["desk_hours"] == f"00:00-{closed_since}"
    assert handoff_of(kb_url, sender) is None
    _, said = ask_for_person(domain, "", sender=sender, entities=[ent("handoff_mode", "message")])
    assert responses(said) == ["utter_handoff_message_left"]
    assert handoff_of(kb_url, sender).state == "message"


def test_a_long_wait_offers_a_message_instead(kb_url, domain, desk_hours):
    with session_scope(kb_url) as s:
        s.execute(update(m.DeskSetting).values(max_wait_minutes=1, default_handle_minutes=5))
    try:
        ask_for_person(domain)  # one customer ahead: five minutes at least
        sender, said = ask_for_person(domain)
        assert responses(said) == ["utter_handoff_queued_long"]
        _, said = ask_for_person(domain, "", sender=sender, entities=[ent("handoff_mode", "message")])
        assert responses(said) == ["utter_handoff_message_left"]
        assert handoff_of(kb_url, sender).state == "message"
    finally:
        with session_scope(kb_url) as s:
            s.execute(update(m.DeskSetting).values(max_wait_minutes=15, default_handle_minutes=6))


def test_a_rating_is_stored_once_and_counts_for_the_person(kb_url, domain, desk_hours):
    sender, _ = ask_for_person(domain)
    with session_scope(kb_url) as s:
        handoff = h.latest_handoff_of(s, sender)
        assert h.take(s, handoff.id, "agent_a") and h.resolve(s, handoff.id, "agent_a")
    tracker = make_tracker("", "rate_service", [ent("score", "2")], sender_id=sender)
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionRateService().run(dispatcher, tracker, domain))
    assert responses(dispatcher) == []  # the thanks comes with the comment question (comment_form)
    assert [e["event"] for e in events] == ["slot", "followup"]
    assert events[1]["name"] == "comment_form"
    with session_scope(kb_url) as s:
        rating = s.scalar(select(m.SatisfactionRating).order_by(m.SatisfactionRating.id.desc()))
        assert (rating.score, rating.agent, rating.handoff_id) == (2, "agent_a", handoff.id)
        assert rating.conversation_ref != sender  # pseudonymous
    again = make_tracker("", "rate_service", [ent("score", "5")], slots={"satisfaction_given": True}, sender_id=sender)
    assert responses(run(ActionRateService(), again, domain)) == ["utter_already_rated"]
    nonsense = make_tracker("", "rate_service", [ent("score", "9")], sender_id=sender)
    assert responses(run(ActionRateService(), nonsense, domain)) == ["utter_ask_satisfaction"]


def test_two_agents_never_take_the_same_customer(kb_url, domain, desk_hours):
    sender, _ = ask_for_person(domain)
    handoff_id = handoff_of(kb_url, sender).id
    with session_scope(kb_url) as s:
        assert h.take(s, handoff_id, "agent_a")
    with session_scope(kb_url) as s:
        assert not h.take(s, handoff_id, "agent_b")
        assert not h.resolve(s, handoff_id, "agent_b")
        assert h.transfer(s, handoff_id, "agent_a", "loans")
    with session_scope(kb_url) as s:
        moved = s.get(m.Handoff, handoff_id)
        assert (moved.state, moved.department, moved.agent) == ("waiting", "loans", None)


def test_the_rating_is_asked_once_and_only_after_a_real_question(domain):
    small_talk = make_tracker("再见", "goodbye", events=[user("你好", "greet")])
    assert responses(run(ActionAskSatisfaction(), small_talk, domain)) == []
    asked = make_tracker("谢谢", "thank", events=[user("信用卡年费多少", "ask_fees")])
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAskSatisfaction().run(dispatcher, asked, domain))
    assert responses(dispatcher) == ["utter_ask_satisfaction"]
    assert events == [{"event": "slot", "timestamp": None, "name": "satisfaction_asked", "value": True}]
    again = make_tracker(
        "再见", "goodbye", events=[user("信用卡年费多少", "ask_fees")], slots={"satisfaction_asked": True}
    )
    assert responses(run(ActionAskSatisfaction(), again, domain)) == []
