"""The rating at the end of a conversation and the comment after it: asked after a complaint too,
a comment kept (masked) on the rating, waved away, or not taken when the customer moves on."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.aftersales import (
    ActionAskSatisfactionComment,
    ActionLodgeComplaint,
    ActionRateService,
    ActionSaveComment,
    ActionStopForm,
    ValidateCommentForm,
    comment_reading,
)
from banktext import to_simplified
from knowledge import handoffs as h
from knowledge import models as m
from knowledge import queries as q
from knowledge.db import create_schema, session_scope
from tests.actions.conftest import ent, make_tracker, responses, slots_set


def user(text: str, intent: str, entities: list | None = None) -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": entities or []}}


def run(action, tracker, domain) -> tuple[CollectingDispatcher, list[dict]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain))
    return dispatcher, events


def rated(score: str) -> dict:
    return user(f'/rate_service{{"score": "{score}"}}', "rate_service", [ent("score", score)])


def message(text: str, intent: str, confidence: float = 0.9) -> dict:
    return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}


@pytest.mark.parametrize(
    "text,intent,confidence",
    [
        ("等了太久了，效率太低", "nlu_fallback", 0.1),
        ("手续费太高了", "ask_fees", 0.8),  # a verdict, not a fee question
        ("利率太低了，没什么吸引力", "ask_interest_rate", 0.7),
        ("回答得很清楚，谢谢小澜", "thank", 0.9),
        ("服务态度很差", "complain", 0.8),  # a verdict: kept as the comment, no complaint form
        ("app老是闪退，太难用了", "out_of_scope", 0.6),
        ("還不錯，就是有點慢", "inform", 0.5),
        ("不满意", "deny", 0.9),
        # as the trained NLU reads them: a verdict on the person, not a request for one
        ("人工客服太难等了", "request_human", 0.96),
        ("王敏回答得很及时，解释也清楚", "complain", 0.96),
        ("还行", "faq", 0.78),
        ("一般般吧", "affirm", 0.98),
        ("答非所问", "deny", 0.28),
        ("转账额度能不能调高一点", "ask_fees", 0.3),  # read without confidence: a remark
    ],
)
def test_remarks_are_comments(text, intent, confidence):
    assert comment_reading(message(text, intent, confidence)) == "comment"


@pytest.mark.parametrize(
    "text,intent",
    [
        ("/deny", "deny"),
        ("跳过", "nlu_fallback"),
        ("不用了", "deny"),
        ("没有了，谢谢", "thank"),
        ("沒有", "deny"),
        ("好的", "affirm"),
        ("嗯", "affirm"),
    ],
)
def test_nothing_to_add(text, intent):
    assert comment_reading(message(text, intent)) == "skip"


@pytest.mark.parametrize(
    "text,intent,confidence",
    [
        ("信用卡年费多少", "ask_fees", 0.8),
        ("大额存单利率是多少？", "ask_interest_rate", 0.9),
        ("附近有网点吗", "ask_branch", 0.7),
        ("手续费太高了，有没有免费的卡", "ask_fees", 0.8),  # a verdict that asks
        ("转人工", "request_human", 1.0),
        ("我要投诉你们的柜员", "complain", 0.9),
        ("你好", "greet", 0.9),
        ("谢谢", "thank", 0.95),
        ("再见", "goodbye", 0.95),
        ("我的卡丢了", "report_lost_card", 0.4),  # an emergency, even read with little confidence
        ("/ask_product_info", "ask_product_info", 1.0),  # a button pressed
        ('/rate_service{"score": "1"}', "rate_service", 1.0),
    ],
)
def test_new_questions_are_not_swallowed(text, intent, confidence):
    assert comment_reading(message(text, intent, confidence)) == "new"


def test_a_stored_rating_invites_a_comment_asked_by_the_score(domain):
    sender = f"web:rate-{uuid.uuid4().hex[:8]}"
    said, events = run(
        ActionRateService(), make_tracker("", "rate_service", [ent("score", "4")], sender_id=sender), domain
    )
    assert responses(said) == []
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "comment_form"}
    high = make_tracker("", "rate_service", [ent("score", "4")])
    assert responses(run(ActionAskSatisfactionComment(), high, domain)[0]) == ["utter_ask_comment"]
    low = make_tracker("", "rate_service", [ent("score", "1")])
    assert responses(run(ActionAskSatisfactionComment(), low, domain)[0]) == ["utter_ask_comment_low"]
    buttons = domain["responses"]["utter_ask_comment_low"][0]["buttons"]
    assert [b["title"] for b in buttons] == ["跳过"]
    again = make_tracker("", "rate_service", [ent("score", "5")], slots={"satisfaction_given": True})
    said, events = run(ActionRateService(), again, domain)
    assert responses(said) == ["utter_already_rated"] and events == []  # no second comment question


def _comment_turn(text: str, intent: str, sender: str, confidence: float = 0.9):
    return make_tracker(
        text,
        intent,
        slots={"requested_slot": "satisfaction_comment", "satisfaction_given": True},
        events=[rated("2")],
        active_loop="comment_form",
        sender_id=sender,
        confidence=confidence,
    )


def _rating_of(kb_url: str, sender: str) -> m.SatisfactionRating | None:
    with session_scope(kb_url) as s:
        rating = s.scalar(
            select(m.SatisfactionRating)
            .where(m.SatisfactionRating.conversation_ref == q.pseudonym(sender))
            .order_by(m.SatisfactionRating.id.desc())
        )
        if rating is not None:
            s.expunge(rating)
        return rating


def _rate(kb_url: str, sender: str, score: int = 2) -> None:
    with session_scope(kb_url) as s:
        h.rate(s, sender, q.pseudonym(sender), score)


def test_the_comment_is_kept_masked_on_the_rating(kb_url, domain):
    sender = f"web:comment-{uuid.uuid4().hex[:8]}"
    _rate(kb_url, sender)
    text = "櫃員態度不好，卡號6222021234567890123還被扣了年費"  # Traditional, with a card number
    turn = _comment_turn(text, "complain", sender, 0.6)
    turn.latest_message["text"] = to_simplified(text).replace(
        "，", ","
    )  # what the NLU read; the event keeps the typing
    said, events = run(ValidateCommentForm(), turn, domain)
    comment = slots_set(events)["satisfaction_comment"]
    assert "6222021234567890123" not in comment and comment.startswith("櫃員態度不好")
    tracker = make_tracker(text, "complain", slots={"satisfaction_comment": comment}, sender_id=sender)
    said, _ = run(ActionSaveComment(), tracker, domain)
    assert responses(said) == ["utter_comment_thanks"]
    stored = _rating_of(kb_url, sender)
    assert stored.comment == comment and stored.score == 2
    # never a second comment on the same rating
    with session_scope(kb_url) as s:
        assert h.add_comment(s, q.pseudonym(sender), "再说一句") is None
    assert _rating_of(kb_url, sender).comment == comment


def test_a_long_comment_is_cut(kb_url):
    sender = f"web:long-{uuid.uuid4().hex[:8]}"
    _rate(kb_url, sender, 3)
    with session_scope(kb_url) as s:
        h.add_comment(s, q.pseudonym(sender), "慢" * 3000)
    assert len(_rating_of(kb_url, sender).comment) == h.COMMENT_CHARS


def test_waving_the_question_away_stores_nothing(kb_url, domain):
    sender = f"web:skip-{uuid.uuid4().hex[:8]}"
    _rate(kb_url, sender)
    _, events = run(ValidateCommentForm(), _comment_turn("/deny", "deny", sender), domain)
    assert slots_set(events) == {"satisfaction_comment": "-"}
    tracker = make_tracker("/deny", "deny", slots={"satisfaction_comment": "-"}, events=[rated("2")], sender_id=sender)
    said, _ = run(ActionSaveComment(), tracker, domain)
    assert responses(said) == ["utter_rating_sorry"]
    assert _rating_of(kb_url, sender).comment is None


def test_a_new_question_leaves_the_comment_unfilled_and_the_form_quietly(kb_url, domain):
    sender = f"web:new-{uuid.uuid4().hex[:8]}"
    _rate(kb_url, sender)
    said, events = run(ValidateCommentForm(), _comment_turn("信用卡年费多少", "ask_fees", sender), domain)
    assert "satisfaction_comment" not in slots_set(events)  # the form is rejected: the question is answered
    stop = make_tracker("信用卡年费多少", "ask_fees", active_loop="comment_form", sender_id=sender)
    said, events = run(ActionStopForm(), stop, domain)
    assert responses(said) == []  # no "已为您取消" for a question nobody had to answer
    assert {"event": "active_loop", "timestamp": None, "name": None} in events
    assert _rating_of(kb_url, sender).comment is None


def test_the_rating_button_itself_is_no_comment(domain):
    activation = make_tracker('/rate_service{"score": "5"}', "rate_service", [ent("score", "5")])
    _, events = run(ValidateCommentForm(), activation, domain)
    assert "satisfaction_comment" not in slots_set(events)


def _complaint(sender: str, slots: dict | None = None):
    return make_tracker(
        "不用",
        "deny",
        slots={
            "complaint_category": "排队等候",
            "complaint_description": "周六上午在网点等了一个多小时",
            "complaint_contact": "-",
            **(slots or {}),
        },
        events=[user("我要投诉", "complain")],
        sender_id=sender,
    )


def test_a_lodged_complaint_is_followed_by_the_rating_once(kb_url, domain):
    said, events = run(ActionLodgeComplaint(), _complaint(f"web:c-{uuid.uuid4().hex[:8]}"), domain)
    assert responses(said) == ["utter_complaint_recorded", "utter_ask_satisfaction"]
    assert slots_set(events)["satisfaction_asked"] is True
    asked = _complaint(f"web:c-{uuid.uuid4().hex[:8]}", {"satisfaction_asked": True})
    assert responses(run(ActionLodgeComplaint(), asked, domain)[0]) == ["utter_complaint_recorded"]


def test_no_rating_is_asked_when_the_complaint_was_not_saved(domain, monkeypatch, tmp_path):
    monkeypatch.setenv("KNOWLEDGE_DB_URL", f"sqlite:///{tmp_path / 'gone.db'}")
    monkeypatch.setenv("KNOWLEDGE_DB_MUST_EXIST", "1")
    monkeypatch.setenv("SQLITE_BUSY_SECONDS", "0.1")
    said, events = run(ActionLodgeComplaint(), _complaint("web:c-down"), domain)
    assert responses(said) == ["utter_complaint_not_saved"]
    assert events == []


def test_an_older_database_gains_the_comment_column(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the satisfaction table as the previous release created it
        db.execute(
            "CREATE TABLE satisfaction (id INTEGER PRIMARY KEY, conversation_ref VARCHAR(64), score INTEGER,"
            " handoff_id INTEGER, agent VARCHAR(40), created_at DATETIME)"
        )
        db.execute("INSERT INTO satisfaction VALUES (1, 'r', 4, NULL, NULL, '2026-01-01 10:00:00')")
    create_schema(f"sqlite:///{path}")
    create_schema(f"sqlite:///{path}")  # a second time changes nothing
    with sqlite3.connect(path) as db:
        assert "comment" in {row[1] for row in db.execute("PRAGMA table_info(satisfaction)")}
        assert db.execute("SELECT score, comment FROM satisfaction").fetchone() == (4, None)
