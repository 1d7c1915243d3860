"""When the knowledge base is missing or locked, every action still answers the customer.

Emergencies (lost card, fraud, the hotline, a person) keep their own answers, filled
from the last known or generated bank facts; every other action apologises with the
hotline and a way to a person instead of failing with HTTP 500; a write that cannot be
stored says so instead of giving a reference that does not exist.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
import uuid
from collections.abc import Callable

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import common
from tests.actions.conftest import ent, make_tracker, responses

HOTLINE = "400-696-0000"

# each action with a customer message that makes it reach the knowledge base
CASES = {
    "action_greet": make_tracker("你好", "greet"),
    "action_show_capabilities": make_tracker("你能做什么", "ask_capabilities"),
    "action_answer_product_info": make_tracker(
        "大额存单是什么", "ask_product_info", [ent("product_type", "certificate_of_deposit")]
    ),
    "action_answer_interest_rate": make_tracker(
        "定期利率多少", "ask_interest_rate", [ent("product_type", "time_deposit")]
    ),
    "action_answer_fees": make_tracker("信用卡年费", "ask_fees", [ent("product_type", "credit_card")]),
    "action_answer_eligibility": make_tracker("房贷条件", "ask_eligibility", [ent("product_type", "mortgage")]),
    "action_answer_documents": make_tracker(
        "开户带什么", "ask_required_documents", [ent("product_type", "debit_card")]
    ),
    "action_answer_risk": make_tracker("基金风险大吗", "ask_risk", [ent("product_type", "fund")]),
    "action_answer_maturity": make_tracker("定期到期怎么办", "ask_maturity", [ent("product_type", "time_deposit")]),
    "action_apply_product": make_tracker("我要办信用卡", "apply_product", [ent("product_type", "credit_card")]),
    "action_compare_products": make_tracker(
        "定期和大额存单哪个好",
        "compare_products",
        [ent("product_type", "time_deposit"), ent("product_type", "certificate_of_deposit")],
    ),
    "action_acknowledge_disclosure": make_tracker(
        "我已阅读并知晓风险",
        "affirm",
        slots={"disclosure_pending": True, "disclosure_product": "WM-MIX", "pending_aspect": "info"},
    ),
    "action_decline_disclosure": make_tracker("不了", "deny", slots={"disclosure_pending": True}),
    "action_recommend_products": make_tracker(
        "",
        "inform",
        slots={"segment": "retiree", "goal": "saving", "amount": 100000, "term": 12, "risk_tolerance": "C2"},
    ),
    "action_report_lost_card": make_tracker("我的卡丢了", "report_lost_card"),
    "action_report_fraud": make_tracker("我被骗了", "report_fraud"),
    "action_show_contact": make_tracker("客服电话", "ask_contact"),
    "action_explain_bot": make_tracker("你是机器人吗", "bot_challenge"),
    "action_decline_out_of_scope": make_tracker("今天天气", "out_of_scope"),
    "action_find_branches": make_tracker("北京海淀的网点", "ask_branch"),
    "action_book_appointment": make_tracker(
        "",
        "inform",
        slots={
            "appointment_branch": "BJ-HD-01",
            "appointment_time": "2099-01-05T10:00",
            "appointment_business": "开户/办卡",
        },
    ),
    "action_lodge_complaint": make_tracker(
        "不用",
        "inform",
        slots={"complaint_category": "服务态度", "complaint_description": "柜员态度很差", "complaint_contact": "-"},
    ),
    "action_handoff_to_human": make_tracker("转人工", "request_human"),
    "action_rate_service": make_tracker("", "rate_service", [ent("score", "5")]),
    "action_ticket_status": make_tracker("我的投诉TS261203A1B2C3处理得怎么样了", "ask_ticket_status"),
    "action_set_reminder": make_tracker(
        f"我的三年定期{dt.date.today() + dt.timedelta(days=30):%Y年%m月%d日}到期，到时候提醒我", "set_reminder"
    ),
    "action_cancel_reminders": make_tracker("取消提醒", "cancel_reminder"),
    "action_list_reminders": make_tracker("我设了哪些提醒", "list_reminders"),
    "action_cancel_appointment": make_tracker("取消预约", "cancel_appointment"),
    "action_list_appointments": make_tracker("我的预约", "list_appointments"),
    "action_cancel_appointment_in_form": make_tracker(
        "取消预约 YY261205ABC123", "cancel_appointment", active_loop="appointment_form"
    ),
    "action_deliver_reminders": make_tracker("", ""),
    "action_ask_appointment_branch": make_tracker(
        "我要预约", "book_appointment", slots={"requested_slot": "appointment_branch"}, active_loop="appointment_form"
    ),
    "action_ask_appointment_time": make_tracker(
        "我要预约", "book_appointment", slots={"requested_slot": "appointment_time"}, active_loop="appointment_form"
    ),
    "action_ask_satisfaction": make_tracker(
        "谢谢", "thank", events=[{"event": "user", "text": "年费多少", "parse_data": {"intent": {"name": "ask_fees"}}}]
    ),
    "validate_comment_form": make_tracker(
        "回答很清楚，谢谢", "thank", slots={"requested_slot": "satisfaction_comment"}, active_loop="comment_form"
    ),
    "action_ask_satisfaction_comment": make_tracker("", "rate_service", [ent("score", "2")]),
    "action_save_comment": make_tracker("等太久了", "nlu_fallback", slots={"satisfaction_comment": "等太久了"}),
    "action_handle_fallback": make_tracker("啊啊啊", "nlu_fallback"),
    "action_stop_form": make_tracker("算了", "deny", active_loop="complaint_form"),
    "action_deny_in_form": make_tracker("算了", "deny", active_loop="appointment_form"),
    "action_answer_followup": make_tracker("白金卡呢", "inform", slots={"last_aspect": "fees"}),
    "action_answer_faq": make_tracker("那白金卡呢", "faq", slots={"last_aspect": "fees"}),
    "action_answer_yes": make_tracker(
        "白金的", "affirm", slots={"last_aspect": "apply", "product_code": "CC-CLASSIC", "product_type": "credit_card"}
    ),
    "action_answer_no": make_tracker(
        "不对，是三年", "deny", [ent("term", 36)], slots={"last_aspect": "rate", "product_code": "TD-ZCZQ"}
    ),
    "validate_appointment_form": make_tracker(
        "北京海淀",
        "inform",
        slots={"requested_slot": "appointment_branch", "appointment_branch": "北京海淀"},
        active_loop="appointment_form",
    ),
    "validate_recommendation_form": make_tracker(
        "退休了", "inform", slots={"requested_slot": "segment", "segment": "退休了"}, active_loop="recommendation_form"
    ),
    "validate_complaint_form": make_tracker(
        "服务态度",
        "inform",
        slots={"requested_slot": "complaint_category", "complaint_category": "服务态度"},
        active_loop="complaint_form",
    ),
}
#: Answers that must never depend on the database.
EMERGENCIES = {
    "action_report_lost_card": "utter_lost_card_steps",
    "action_report_fraud": "utter_fraud_urgent",
    "action_show_contact": "utter_contact",
    "action_handoff_to_human": "utter_handoff",
}


# A form's own extraction sets the requested slot after the message, and the validation checks it.
for _form in (tracker for name, tracker in CASES.items() if name.startswith("validate_")):
    _slot = _form.get_slot("requested_slot")
    _form.events.append({"event": "slot", "name": _slot, "value": _form.get_slot(_slot)})


def _actions() -> dict[str, Callable]:
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    return dict(executor.actions)


def test_every_action_is_covered(domain):
    names = {a for a in domain["actions"]}
    assert names == set(CASES), f"fault cases missing for {names - set(CASES)}, unknown {set(CASES) - names}"


@pytest.fixture
def missing_db(monkeypatch, tmp_path):
    """The action server's situation when the knowledge base file has gone."""
    monkeypatch.setenv("KNOWLEDGE_DB_URL", f"sqlite:///{tmp_path / f'gone-{uuid.uuid4().hex}.db'}")
    monkeypatch.setenv("KNOWLEDGE_DB_MUST_EXIST", "1")
    monkeypatch.setitem(common._bank_cache, "values", {})  # nothing read before: the generated file answers
    yield tmp_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_action_answers_without_the_database(name, missing_db, domain):
    action = _actions()[name]
    dispatcher = CollectingDispatcher()
    asyncio.run(action(dispatcher, CASES[name], domain))
    said = responses(dispatcher)
    if name.startswith("validate_"):
        # a validation may stay silent, but must not fail
        assert said in ([], ["utter_service_unavailable"]), said
        return
    if name == "action_deliver_reminders":
        # run by the scheduler, not by the customer: no apology out of the blue; the reminders wait
        assert said == [], said
        return
    assert said, f"{name} said nothing"
    if name in EMERGENCIES:
        assert said == [EMERGENCIES[name]]
        assert HOTLINE in str(dispatcher.messages[0]), dispatcher.messages
    elif name == "action_lodge_complaint":
        assert said == ["utter_complaint_not_saved"]
    elif name == "action_book_appointment":
        assert said == ["utter_booking_not_saved"]
    elif name == "action_set_reminder":
        assert said == ["utter_reminder_not_saved"]
    for message in dispatcher.messages:
        if message.get("response") in (
            "utter_service_unavailable",
            "utter_complaint_not_saved",
            "utter_booking_not_saved",
        ):
            assert message.get("hotline") == HOTLINE
    assert not list(missing_db.glob("gone-*.db")), "a missing knowledge base must not be created empty"


def _locked(url: str, seconds: float) -> threading.Event:
    """Hold an exclusive lock on the SQLite file behind ``url`` for ``seconds``."""
    started = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0)
        conn.execute("BEGIN EXCLUSIVE")
        started.set()
        threading.Event().wait(seconds)
        conn.rollback()
        conn.close()

    threading.Thread(target=hold, daemon=True).start()
    started.wait(5)
    return started


def _copy_db(kb_url: str, tmp_path) -> str:
    source = sqlite3.connect(kb_url.removeprefix("sqlite:///"))
    target_path = tmp_path / f"locked-{uuid.uuid4().hex}.db"
    target = sqlite3.connect(target_path)
    source.backup(target)
    source.close()
    target.close()
    return f"sqlite:///{target_path}"


def test_complaint_on_a_locked_database_is_stored_or_reported(kb_url, tmp_path, monkeypatch, domain):
    url = _copy_db(kb_url, tmp_path)
    monkeypatch.setenv("KNOWLEDGE_DB_URL", url)
    monkeypatch.setenv("SQLITE_BUSY_SECONDS", "0.2")
    action = _actions()["action_lodge_complaint"]
    tracker = CASES["action_lodge_complaint"]

    def complaints() -> int:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return db.execute("select count(*) from complaint").fetchone()[0]

    before = complaints()
    _locked(url, 4.0)
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action(dispatcher, tracker, domain))
    assert responses(dispatcher) == ["utter_complaint_not_saved"]
    assert events == [], "the answers are kept so that the customer can submit again"
    threading.Event().wait(4.5)  # the lock is released
    assert complaints() == before

    dispatcher = CollectingDispatcher()
    asyncio.run(action(dispatcher, tracker, domain))
    assert responses(dispatcher) == ["utter_complaint_recorded"]
    assert dispatcher.messages[0]["code"]
    assert complaints() == before + 1


def test_a_short_lock_is_waited_out(kb_url, tmp_path, monkeypatch, domain):
    url = _copy_db(kb_url, tmp_path)
    monkeypatch.setenv("KNOWLEDGE_DB_URL", url)
    monkeypatch.setenv("SQLITE_BUSY_SECONDS", "0.2")
    _locked(url, 0.6)
    dispatcher = CollectingDispatcher()
    asyncio.run(_actions()["action_lodge_complaint"](dispatcher, CASES["action_lodge_complaint"], domain))
    assert responses(dispatcher) == [
        "utter_complaint_recorded"
    ], "a lock shorter than the retries must not lose the complaint"
