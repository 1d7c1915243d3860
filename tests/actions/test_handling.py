"""Reception, lost cards, fraud, branches, appointments, complaints, fallback, recommendations."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import handling
from actions.aftersales import ActionLodgeComplaint, ValidateComplaintForm
from actions.datetime_zh import parse_datetime
from actions.handling import (
    ActionAskAppointmentBranch,
    ActionAskAppointmentTime,
    ActionBookAppointment,
    ActionDeclineOutOfScope,
    ActionFindBranches,
    ActionGreet,
    ActionReportFraud,
    ActionReportLostCard,
    ActionShowContact,
    ValidateAppointmentForm,
)
from actions.products import (
    ActionAnswerDocuments,
    ActionAnswerFees,
    ActionAnswerFollowup,
    ActionAnswerNo,
    ActionCompareProducts,
)
from actions.quality import ActionHandleFallback
from actions.recommend import ActionRecommendProducts, ValidateRecommendationForm, risk_answer, tolerance_from
from banktext import mask_phone, redact
from banktext.intents import DECIDED_BY_RULE, DID_NOT_FOLLOW, NOT_WHAT_I_ASKED, UNFAMILIAR_WORDS
from knowledge import models as m
from tests.actions.conftest import ROOT, ent, responses, slots_set, without_misses


async def test_greeting_names_the_bank_from_the_knowledge_base(dispatcher, tracker_for, domain):
    await ActionGreet().run(dispatcher, tracker_for("你好", "greet"), domain)
    assert dispatcher.messages[0]["response"] == "utter_greet" and dispatcher.messages[0]["bank_name"] == "云澜银行"


@pytest.mark.parametrize("action", [ActionReportLostCard, ActionReportFraud])
async def test_urgent_steps_carry_the_hotline(action, dispatcher, tracker_for, domain):
    await action().run(dispatcher, tracker_for("卡丢了", "report_lost_card"), domain)
    assert dispatcher.messages[0]["hotline"] == "400-696-0000"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("卡被取款机吞了怎么办", "utter_faq/atm_retained_card"),
        ("提款機把我的卡吃進去了", "utter_faq/atm_retained_card"),
        ("ATM突然黑屏 卡没退出来", "utter_faq/atm_retained_card"),
        ("卡已经电话挂失了 下一步去哪补", "utter_faq/card_reissue_after_loss"),
        ("補卡當天能拿到新卡嗎", "utter_faq/card_reissue_after_loss"),
        ("我的银行卡丢了", "utter_lost_card_steps"),
        ("卡丢了 怎么补办", "utter_lost_card_steps"),
        ("信用卡被偷了 要补新卡", "utter_lost_card_steps"),
    ],
)
async def test_lost_card_answer_fits_what_happened(text, expected, dispatcher, tracker_for, domain):
    """A swallowed card and a replacement after reporting are report_lost_card in the contract;
    they get their knowledge-base steps, a card lost now the urgent ones."""
    events = await ActionReportLostCard().run(dispatcher, tracker_for(text, "report_lost_card"), domain)
    assert responses(dispatcher) == [expected]
    # a swallowed card waits at the branch that runs the ATM: the place said next finds it
    assert (slots_set(events)["last_aspect"] == "branch") is (expected == "utter_faq/atm_retained_card")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("你们客服电话多少", "utter_contact"),
        ("信用卡中心电话是多少", "utter_contact"),
        ("400一直占线 还有别的办法联系你们吗", "utter_faq/customer_service_channels"),
        ("人在國外 怎麼聯繫你們", "utter_faq/customer_service_channels"),
        ("有没有网上客服", "utter_faq/customer_service_channels"),
        ("成都春熙路支行的座机号码多少", "utter_branches_found"),  # the branch, with its phone
        ("你们网点电话多少", "utter_ask_city"),
    ],
)
async def test_contact_answer_offers_other_channels_when_the_phone_fails(
    text, expected, dispatcher, tracker_for, domain, kb
):
    await ActionShowContact().run(dispatcher, tracker_for(text, "ask_contact"), domain)
    assert responses(dispatcher) == [expected]


@pytest.mark.parametrize(
    "text,explained",
    [
        ("线上预约取号在哪操作", True),
        ("叫号的时候没听到 过号了", True),
        ("預約的號怎麼取消", True),
        ("帮我预约明天上午去网点开户", False),
        ("预约取号", False),
    ],
)
async def test_appointment_form_opens_with_how_queue_numbers_work(text, explained, dispatcher, tracker_for, domain, kb):
    """预约取号 is book_appointment in the contract: a question about how numbers work is answered as
    the form starts; a plain request to book goes straight to the form's questions."""
    tracker = tracker_for(text, "book_appointment", active_loop="appointment_form")
    await ValidateAppointmentForm().run(dispatcher, tracker, domain)
    assert ("utter_faq/branch_queue_appointment" in responses(dispatcher)) is explained


@pytest.mark.parametrize(
    "text,entities,first",
    [
        # the account opening books the visit online first: its steps
        (
            "我要开对公账户，需要预约吗",
            [ent("product_type", "corporate_settlement", "对公账户")],
            "utter_booking_in_the_steps",
        ),
        # a large cash withdrawal is booked a day ahead: its how-to
        ("取5万现金要不要提前预约", [], "utter_faq/large_cash_withdrawal"),
        # most visits: no booking needed, a booking shortens the wait
        ("存定期能直接去吗", [ent("product_type", "time_deposit", "定期")], "utter_booking_not_required"),
        # a request to book: straight to the form's questions
        ("我要预约周五去开对公账户", [ent("product_type", "corporate_settlement", "对公账户")], None),
    ],
)
async def test_whether_a_visit_must_be_booked_is_answered_as_the_form_starts(
    text, entities, first, dispatcher, tracker_for, domain, kb
):
    """ "我要开对公账户，需要预约吗" went straight to "which branch?", the question unanswered."""
    tracker = tracker_for(text, "book_appointment", entities, active_loop="appointment_form")
    await ValidateAppointmentForm().run(dispatcher, tracker, domain)
    said = responses(dispatcher)
    if first is None:
        assert not any(r and (r.startswith("utter_booking") or r.startswith("utter_faq/")) for r in said), said
        return
    assert said[0] == first, said
    if first == "utter_booking_in_the_steps":
        assert dispatcher.messages[0]["product"] == "云澜单位银行结算账户开户"
        assert "对公开户预约" in dispatcher.messages[0]["steps"]


def _selected(tracker, topic: str, confidence: float):
    tracker.latest_message["response_selector"] = {
        "faq": {"response": {"utter_action": f"utter_faq/{topic}", "confidence": confidence}}
    }
    return tracker


@pytest.mark.parametrize(
    "text,expected",
    [
        ("身份证号110105199001011234", "utter_personal_number_masked"),
        ("我的手机13812345678", "utter_out_of_scope"),  # a phone number is no secret asked for here
        ("6222***********0123", "utter_personal_number_masked"),  # as the gateway passes it on
        ("今天天气怎么样", "utter_out_of_scope"),
    ],
)
async def test_a_card_or_id_number_sent_is_told_it_is_not_needed(text, expected, dispatcher, tracker_for, domain):
    """ "身份证号110105199001011234" after a lost card was "out of scope", or, read as a follow-up, the
    list of debit cards."""
    await ActionDeclineOutOfScope().run(dispatcher, tracker_for(text, "out_of_scope"), domain)
    assert responses(dispatcher) == [expected]
    if expected == "utter_personal_number_masked":
        followed = CollectingDispatcher()
        slots = {"product_type": "debit_card", "last_aspect": None}
        await ActionAnswerFollowup().run(followed, tracker_for(text, "inform", slots=slots), domain)
        assert responses(followed) == [expected]


@pytest.mark.parametrize(
    "text,last_faq,last_aspect,topic,confidence,expected",
    [
        # right after the transfer limits, "can it go up" is the how-to next to it
        ("能调高吗", "transfer_limit", None, "raise_transfer_limit", 0.56, "utter_faq/raise_transfer_limit"),
        ("那能調高嗎", "transfer_limit", None, "raise_transfer_limit", 0.78, "utter_faq/raise_transfer_limit"),
        # the selector unsure, the topic no neighbour, a product under discussion, no how-to before,
        # or a long message with a subject of its own: declined as before
        ("能调高吗", "transfer_limit", None, "raise_transfer_limit", 0.3, "utter_out_of_scope"),
        ("能调高吗", "transfer_limit", None, "credit_card_points", 0.9, "utter_out_of_scope"),
        ("能调高吗", "transfer_limit", "rate", "raise_transfer_limit", 0.9, "utter_out_of_scope"),
        ("能调高吗", None, None, "raise_transfer_limit", 0.9, "utter_out_of_scope"),
        ("我想问问明天北京会不会下雨呀", "transfer_limit", None, "raise_transfer_limit", 0.9, "utter_out_of_scope"),
    ],
)
async def test_a_short_question_after_a_how_to_gets_the_how_to_next_to_it(
    text, last_faq, last_aspect, topic, confidence, expected, dispatcher, tracker_for, domain, kb
):
    tracker = tracker_for(text, "out_of_scope", slots={"last_faq": last_faq, "last_aspect": last_aspect})
    events = await ActionDeclineOutOfScope().run(dispatcher, _selected(tracker, topic, confidence), domain)
    assert responses(dispatcher) == [expected]
    if expected.startswith("utter_faq/"):
        assert slots_set(events)["last_faq"] == topic  # a further follow-up leans on this one


@pytest.mark.parametrize(
    "action,intent,text,topic,confidence,expected",
    [
        # no product named, the selector sure, its answer speaks of the subject: the how-to
        (
            ActionAnswerDocuments,
            "ask_required_documents",
            "销户要带什么",
            "account_closure",
            0.9,
            "utter_faq/account_closure",
        ),
        (
            ActionAnswerFees,
            "ask_fees",
            "打印流水要多少钱",
            "transaction_statement",
            0.8,
            "utter_faq/transaction_statement",
        ),
        (
            ActionCompareProducts,
            "compare_products",
            "一类户和二类户有啥区别",
            "class_ii_iii_accounts",
            0.9,
            "utter_faq/class_ii_iii_accounts",
        ),
        # nothing but the aspect: which product
        (ActionAnswerFees, "ask_fees", "年费多少", "unknown_fee_deduction", 0.93, "utter_ask_which_product"),
        # the selector unsure: which product
        (
            ActionAnswerDocuments,
            "ask_required_documents",
            "销户要带什么",
            "account_closure",
            0.3,
            "utter_ask_which_product",
        ),
        # a product named: the catalogue answers
        (ActionAnswerFees, "ask_fees", "信用卡年费多少", "unknown_fee_deduction", 0.9, "utter_product_fees"),
    ],
)
async def test_a_question_naming_no_product_gets_the_how_to_that_covers_it(
    action, intent, text, topic, confidence, expected, dispatcher, tracker_for, domain, kb
):
    """The contract labels 销户要带什么 ask_required_documents; the answer is still the account-closure how-to."""
    exported = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    domain = {**domain, "responses": {**domain["responses"], **exported}}
    entities = [ent("product_type", "credit_card", "信用卡")] if "信用卡" in text else []
    await action().run(dispatcher, _selected(tracker_for(text, intent, entities), topic, confidence), domain)
    assert responses(dispatcher)[:1] == [expected]


def test_faq_answers_the_actions_name_are_exported():
    """The topic answers the lost-card and contact actions utter are responses of the trained domain."""
    exported = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    for name in (
        "utter_faq/atm_retained_card",
        "utter_faq/card_reissue_after_loss",
        "utter_faq/customer_service_channels",
        "utter_faq/branch_queue_appointment",
    ):
        assert exported[name][0]["text"].strip()


async def test_branches_by_city_and_district(dispatcher, tracker_for, domain, seed):
    branch = seed.branches[0]
    await ActionFindBranches().run(
        dispatcher, tracker_for(f"{branch.city}{branch.district}有网点吗", "ask_branch"), domain
    )
    assert responses(dispatcher) == ["utter_branches_found"]
    assert branch.name in dispatcher.messages[0]["branches"]


async def test_branch_question_without_place_asks_the_city(dispatcher, tracker_for, domain):
    await ActionFindBranches().run(dispatcher, tracker_for("最近的网点在哪", "ask_branch"), domain)
    assert responses(dispatcher) == ["utter_ask_city"] and "北京" in dispatcher.messages[0]["cities"]


NOW = dt.datetime(2026, 11, 28, 13, 0)  # a Saturday


@pytest.mark.parametrize(
    "text,expected",
    [
        ("明天上午10点", dt.datetime(2026, 11, 29, 10, 0)),
        ("12月3日下午2点半", dt.datetime(2026, 12, 3, 14, 30)),
        ("下周一 9:30", dt.datetime(2026, 11, 30, 9, 30)),
        ("2026-12-01 10:00", dt.datetime(2026, 12, 1, 10, 0)),
        ("后天下午三点十五", dt.datetime(2026, 11, 30, 15, 15)),
        ("1月5号上午九点", dt.datetime(2027, 1, 5, 9, 0)),
        ("聽日下晝三點", dt.datetime(2026, 11, 29, 15, 0)),  # Cantonese: 明天下午三点
        ("聽朝十點", dt.datetime(2026, 11, 29, 10, 0)),
        ("明晚七点", dt.datetime(2026, 11, 29, 19, 0)),
        ("下个月5号上午10点", dt.datetime(2026, 12, 5, 10, 0)),
        ("下下个月1号下午2点", dt.datetime(2027, 1, 1, 14, 0)),  # across the year
        ("本月30号上午9点", dt.datetime(2026, 11, 30, 9, 0)),
        ("下个月31号上午9点", dt.datetime(2026, 12, 31, 9, 0)),
        ("本月31号上午9点", None),  # November has no 31st
        ("随便什么时候", None),
        ("明天", None),
    ],
)
def test_appointment_times_people_write(text, expected):
    assert parse_datetime(text, NOW) == expected


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr(handling, "now_local", lambda: NOW)


async def test_appointment_form_and_booking(frozen_now, dispatcher, tracker_for, domain, kb, seed):
    form = ValidateAppointmentForm()
    weekday_branch = next(b for b in seed.branches if b.hours.get("mon"))
    got = without_misses(
        form.validate_appointment_branch(
            f"{weekday_branch.city}{weekday_branch.district}", dispatcher, tracker_for(""), domain
        )
    )
    branch_code = got["appointment_branch"] or weekday_branch.code
    slots = {"appointment_branch": branch_code}
    assert without_misses(
        form.validate_appointment_time("昨天上午10点", dispatcher, tracker_for(slots=slots), domain)
    ) == {"appointment_time": None}
    assert without_misses(
        form.validate_appointment_time("下周一凌晨3点", dispatcher, tracker_for(slots=slots), domain)
    ) == {"appointment_time": None}
    assert (
        without_misses(
            form.validate_appointment_time("明年3月1日上午10点", dispatcher, tracker_for(slots=slots), domain)
        )["appointment_time"]
        is None
    )
    assert responses(dispatcher)[-3:] == ["utter_time_in_past", "utter_branch_closed_then", "utter_time_too_far"]
    ok = without_misses(form.validate_appointment_time("下周一上午10点", dispatcher, tracker_for(slots=slots), domain))
    assert ok == {"appointment_time": "2026-11-30T10:00"}
    dispatcher.messages.clear()
    tracker = tracker_for(slots={**slots, **ok, "appointment_business": "开户/办卡"})
    events = await ActionBookAppointment().run(dispatcher, tracker, domain)
    code = dispatcher.messages[0]["code"]
    # booked days ahead: a reminder is offered, and remembered for "提醒我"
    assert responses(dispatcher) == ["utter_appointment_confirmed", "utter_offer_appointment_reminder"]
    assert code.startswith("YY")
    stored = kb.scalar(select(m.Appointment).where(m.Appointment.code == code))
    assert stored.branch_code == branch_code and stored.starts_at == dt.datetime(2026, 11, 30, 10, 0)
    offer = slots_set(events).pop("reminder_offer")
    assert '"kind": "appointment"' in offer and '"event": "2026-11-30T10:00"' in offer
    assert all(v is None for v in slots_set(events).values() if v != offer)


def _booking_turns(*said: str) -> list[dict]:
    """The events of a booking form started by the first message, with the later ones answered."""
    events: list[dict] = [{"event": "user", "text": said[0]}, {"event": "active_loop", "name": "appointment_form"}]
    for text in said[1:]:
        events.append({"event": "user", "text": text})
    return events


async def test_one_message_with_two_unusable_parts_is_one_miss(frozen_now, dispatcher, tracker_for, domain):
    """ "我想预约周六上午去北京的网点" has no hour, and four Beijing branches to choose from: the customer was
    told at once "看来这一步不太好说清楚" (two misses counted in one message) and asked for the branch under
    the buttons that ask for it. A choice of branches is no miss; the day is kept for the hour."""
    text = "我想预约周六上午去北京的网点办信用卡"
    opening = tracker_for(text, "book_appointment", slots={"requested_slot": None})
    events = await ValidateAppointmentForm().run(dispatcher, opening, domain)
    said = responses(dispatcher)
    assert "utter_choose_branch" in said and "utter_time_needs_hour" in said
    assert "utter_form_offer_human" not in said and slots_set(events).get("form_misses") == 1

    ask = CollectingDispatcher()  # the form's own question for the branch is not asked under the buttons
    chosen = tracker_for(text, events=[{"event": "bot", "metadata": {"utter_action": "utter_choose_branch"}}])
    chosen.events.append(chosen.events.pop(-2))  # the bot spoke after the customer
    await ActionAskAppointmentBranch().run(ask, chosen, domain)
    assert responses(ask) == []
    await ActionAskAppointmentBranch().run(ask, tracker_for(text), domain)
    assert responses(ask) == ["utter_ask_appointment_branch"]


async def test_the_time_asked_in_the_validations_words_is_not_asked_again(dispatcher, tracker_for, domain):
    """ "明天下午" got "请问那天几点过来？" and then "请问预约什么时间？": two questions for one."""
    text = "我想预约明天下午去北京中关村支行办大额取现"
    asked = tracker_for(text, events=[{"event": "bot", "metadata": {"utter_action": "utter_time_needs_hour"}}])
    asked.events.append(asked.events.pop(-2))  # the bot spoke after the customer
    await ActionAskAppointmentTime().run(dispatcher, asked, domain)
    assert responses(dispatcher) == []
    await ActionAskAppointmentTime().run(dispatcher, tracker_for("我想预约"), domain)
    assert responses(dispatcher) == ["utter_ask_appointment_time"]


@pytest.mark.parametrize(
    "earlier,now_said,expected",
    [
        ("我想预约周五上午去北京的网点办信用卡", "10点", "2026-12-04T10:00"),
        ("下周一下午去国贸支行开户", "3点", "2026-11-30T15:00"),  # 下午 said before
        ("帮我约下午两点去国贸支行", "下周一", "2026-11-30T14:00"),  # the hour said before, the day now
        ("帮我约下午两点去国贸支行", "下周一上午10点", "2026-11-30T10:00"),  # this message's words come first
    ],
)
async def test_a_time_given_in_two_messages_is_put_together(
    earlier, now_said, expected, frozen_now, dispatcher, tracker_for, domain
):
    form = ValidateAppointmentForm()
    tracker = tracker_for(
        now_said, "inform", slots={"requested_slot": "appointment_time"}, events=_booking_turns(earlier)
    )
    got = without_misses(form.validate_appointment_time(now_said, dispatcher, tracker, domain))
    assert got == {"appointment_time": expected}
    alone = tracker_for(now_said, "inform", slots={"requested_slot": "appointment_time"})  # nothing said before
    if now_said in ("10点", "3点", "下周一"):
        assert without_misses(form.validate_appointment_time(now_said, CollectingDispatcher(), alone, domain)) == {
            "appointment_time": None
        }


def test_unknown_place_is_said(dispatcher, tracker_for, domain):
    asked = tracker_for("火星基地", slots={"requested_slot": "appointment_branch"})
    got = ValidateAppointmentForm().validate_appointment_branch("火星基地", dispatcher, asked, domain)
    assert without_misses(got) == {"appointment_branch": None} and responses(dispatcher) == ["utter_branch_not_found"]


@pytest.mark.parametrize(
    "business,story,intent,parse,said",
    [
        # words the NLU never saw: "asdfgh" as the business of a booking, "嗀哫嚭" as a complaint's story
        (
            "asdfgh",
            "嗀哫嚭嗀哫嚭嗀哫嚭",
            "out_of_scope",
            {UNFAMILIAR_WORDS: True},
            ["utter_invalid_business", "utter_invalid_complaint_description"],
        ),
        # a customer who did not follow the question: "没看懂" after "什么业务?" was booked as the business
        (
            "没看懂",
            "看不懂你说的",
            "nlu_fallback",
            {DECIDED_BY_RULE: DID_NOT_FOLLOW},
            ["utter_explain_again", "utter_explain_again"],
        ),
    ],
)
def test_a_free_answer_that_is_no_answer_is_not_taken(
    business, story, intent, parse, said, dispatcher, tracker_for, domain
):
    """Asked again, with the reason, and not stored."""
    booked = ValidateAppointmentForm().validate_appointment_business(
        business, dispatcher, tracker_for(business, intent, parse=parse), domain
    )
    told = ValidateComplaintForm().validate_complaint_description(
        story, dispatcher, tracker_for(story, intent, parse=parse), domain
    )
    assert without_misses(booked) == {"appointment_business": None}
    assert without_misses(told) == {"complaint_description": None}
    assert responses(dispatcher) == said


def test_a_free_answer_in_words_the_nlu_knows_is_taken(dispatcher, tracker_for, domain):
    taken = ValidateAppointmentForm().validate_appointment_business(
        "办社保卡", dispatcher, tracker_for("办社保卡"), domain
    )
    assert without_misses(taken) == {"appointment_business": "办社保卡"}


@pytest.mark.parametrize(
    "story,category",
    [("上周在国贸支行办业务排了两个小时队", "排队等候"), ("上个月在网点被人拉着填了一堆表格最后也没办成", "其他")],
)
async def test_a_story_told_when_the_category_was_asked_is_taken(story, category, dispatcher, tracker_for, domain):
    """The category question answered with what happened (read as a complaint, which the category's own
    mapping leaves out) was asked again as if nothing had been said."""
    tracker = tracker_for(
        story, "complain", slots={"requested_slot": "complaint_category"}, active_loop="complaint_form"
    )
    events = await ValidateComplaintForm().run(dispatcher, tracker, domain)
    filled = slots_set(events)
    assert filled["complaint_category"] == category and filled["complaint_description"] == story
    assert "utter_ask_complaint_category" not in responses(dispatcher)


@pytest.mark.parametrize(
    "before,expected",
    [
        ("你们柜员态度太差了", "你们柜员态度太差了；北京朝阳支行"),  # more than a category: kept
        ("服务态度", "北京朝阳支行"),  # the button's label: nothing more to keep
        ("我要投诉", "北京朝阳支行"),  # no category
    ],
)
def test_what_was_said_with_the_category_heads_the_description(before, expected, dispatcher, tracker_for, domain):
    """ "你们柜员态度太差了" gave the category 服务态度; "北京朝阳支行", told next as what happened, was
    all the description kept."""
    tracker = tracker_for("北京朝阳支行", "inform", events=[{"event": "user", "text": before}])
    told = ValidateComplaintForm().validate_complaint_description("北京朝阳支行", dispatcher, tracker, domain)
    assert told["complaint_description"] == expected


async def test_complaint_is_stored_redacted(dispatcher, tracker_for, domain, kb):
    form = ValidateComplaintForm()
    described = without_misses(
        form.validate_complaint_description(
            "柜员态度差，我的卡号6222021234567890123，身份证11010519900101123X", dispatcher, tracker_for(""), domain
        )
    )["complaint_description"]
    assert "6222021234567890123" not in described and "11010519900101123X" not in described
    assert without_misses(form.validate_complaint_contact("13812345678", dispatcher, tracker_for(""), domain)) == {
        "complaint_contact": "138****5678"
    }
    assert without_misses(form.validate_complaint_contact("不用了", dispatcher, tracker_for(""), domain)) == {
        "complaint_contact": "-"
    }
    assert without_misses(form.validate_complaint_contact("123", dispatcher, tracker_for(""), domain)) == {
        "complaint_contact": None
    }
    tracker = tracker_for(
        slots={"complaint_category": "服务态度", "complaint_description": described, "complaint_contact": "138****5678"}
    )
    await ActionLodgeComplaint().run(dispatcher, tracker, domain)
    recorded = next(x for x in dispatcher.messages if x.get("response") == "utter_complaint_recorded")
    stored = kb.scalar(select(m.Complaint).where(m.Complaint.code == recorded["code"]))
    assert stored.contact == "138****5678" and "6222021234567890123" not in stored.description


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("+86 138 1234 5602", "138****5602"),
        ("１３８－１２３４－５６０３", "138****5603"),
        ("幺三八 幺二三四 五六零四", "138****5604"),
        ("打座机0755 12345678 转 123", "0755-****5678"),
        ("(010)6258-6601", "010-****6601"),
    ],
)
def test_complaint_contact_in_the_formats_customers_type(typed, stored, dispatcher, tracker_for, domain):
    got = ValidateComplaintForm().validate_complaint_contact(typed, dispatcher, tracker_for(""), domain)
    assert without_misses(got) == {"complaint_contact": stored}


def test_redaction():
    text = "卡号6222 0212 3456 7890，电话13812345678，身份证110105199001011234"
    out = redact(text)
    assert "13812345678" not in out and "110105199001011234" not in out and "6222 0212 3456 7890" not in out
    assert "138****5678" in out and "1101**********1234" in out
    assert mask_phone("010-62345678") == "010-****5678"
    assert mask_phone("(0755)8888-1234 转 123") == "0755-****1234"


async def test_fallback_rephrase_then_human_and_logged(dispatcher, tracker_for, domain, kb):
    fallback_event = {"event": "user", "text": "啊啊啊", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    first = tracker_for("嗯嗯那个啥 13812345678", "nlu_fallback", confidence=0.2)
    await ActionHandleFallback().run(dispatcher, first, domain)
    second = tracker_for("还是那个啥", "nlu_fallback", events=[fallback_event], confidence=0.2)
    await ActionHandleFallback().run(dispatcher, second, domain)
    assert responses(dispatcher) == ["utter_please_rephrase", "utter_offer_human"]
    texts = [r.text for r in kb.scalars(select(m.UnansweredQuestion).where(m.UnansweredQuestion.reason == "fallback"))]
    assert "嗯嗯那个啥 138****5678" in texts


@pytest.mark.parametrize("intent,ends_turn", [("nlu_fallback", False), ("ask_recommendation", True)])
async def test_the_fallback_run_where_no_rule_fits_ends_the_turn(
    intent, ends_turn, dispatcher, tracker_for, domain, kb
):
    """Run by a rule (the NLU unsure), the rule goes on after it; run as the policies' fallback (a
    turn no rule fits), it ends the turn: it had been run ten times over, and logged ten times."""
    events = await ActionHandleFallback().run(dispatcher, tracker_for("稳一点的", intent, confidence=0.9), domain)
    assert responses(dispatcher) == ["utter_please_rephrase"]
    assert (events == [{"event": "followup", "name": "action_listen", "timestamp": None}]) is ends_turn, events


async def test_a_reply_to_a_disclosure_not_understood_is_told_which_answers_it_takes(dispatcher, tracker_for, domain):
    shown = [
        {"event": "user", "text": "纳指基金怎么样"},
        {"event": "slot", "name": "disclosure_pending", "value": True},
    ]
    tracker = tracker_for("👂", "nlu_fallback", slots={"disclosure_pending": True}, events=shown, confidence=1.0)
    await ActionHandleFallback().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_disclosure_reprompt"]


async def test_a_customer_who_did_not_follow_gets_an_apology_and_a_person_not_a_gap(
    dispatcher, tracker_for, domain, kb
):
    """ "什么意思" after an answer: the bot says it was unclear and offers a person, even after another
    message it did not understand; it is no question the knowledge base lacks."""
    fallback_event = {"event": "user", "text": "啊啊啊", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    tracker = tracker_for(
        "什么意思", "nlu_fallback", events=[fallback_event], confidence=1.0, parse={DECIDED_BY_RULE: DID_NOT_FOLLOW}
    )
    await ActionHandleFallback().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_explain_again"]
    assert domain["responses"]["utter_explain_again"][0]["buttons"][0]["payload"] == "/request_human"
    assert not kb.scalars(select(m.UnansweredQuestion).where(m.UnansweredQuestion.text == "什么意思")).all()


async def test_a_customer_who_says_the_bot_misread_them_is_asked_again_and_the_question_waits_for_staff(
    dispatcher, tracker_for, domain, kb
):
    """ "不对，我不是问这个" after an answer: an apology, a request to ask again, a person offered; the
    question the bot misread is kept (masked) for staff to label, with what the bot read it as."""
    asked = {
        "event": "user",
        "text": "卡号6222021234567890123的年费能免吗",
        "parse_data": {"intent": {"name": "ask_product_info", "confidence": 0.81}},
    }
    said = {"event": "bot", "text": "云澜借记卡是……"}
    tracker = tracker_for(
        "不对，我不是问这个",
        "deny",
        events=[asked, said],
        confidence=1.0,
        slots={"last_aspect": "info"},
        parse={DECIDED_BY_RULE: NOT_WHAT_I_ASKED},
    )
    events = await ActionAnswerNo().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_not_what_you_asked"]
    assert domain["responses"]["utter_not_what_you_asked"][0]["buttons"][0]["payload"] == "/request_human"
    assert slots_set(events) == {"last_aspect": None}  # "那年费呢" next is no follow-up of the misread answer
    row = kb.scalars(select(m.UnansweredQuestion).where(m.UnansweredQuestion.reason == "misread")).one()
    assert (row.text, row.intent, row.confidence) == ("卡号6222***********0123的年费能免吗", "ask_product_info", 0.81)

    # a plain no is still a plain no; a misread button or greeting leaves nothing to label
    plain = CollectingDispatcher()
    await ActionAnswerNo().run(plain, tracker_for("不用了", "deny", events=[asked, said]), domain)
    assert responses(plain) == ["utter_anything_else"]
    pressed = {"event": "user", "text": "/ask_fees", "parse_data": {"intent": {"name": "ask_fees"}}}
    for before in (pressed, {"event": "user", "text": "你好", "parse_data": {"intent": {"name": "greet"}}}):
        again = CollectingDispatcher()
        tracker = tracker_for("不是这个意思", "deny", events=[before], parse={DECIDED_BY_RULE: NOT_WHAT_I_ASKED})
        await ActionAnswerNo().run(again, tracker, domain)
        assert responses(again) == ["utter_not_what_you_asked"]
    assert kb.scalars(select(m.UnansweredQuestion).where(m.UnansweredQuestion.reason == "misread")).all() == [row]


async def test_a_customer_who_did_not_follow_a_disclosure_is_asked_again_with_a_person_offered(
    dispatcher, tracker_for, domain
):
    shown = [
        {"event": "user", "text": "纳指基金怎么样"},
        {"event": "slot", "name": "disclosure_pending", "value": True},
    ]
    tracker = tracker_for(
        "看不懂",
        "nlu_fallback",
        slots={"disclosure_pending": True},
        events=shown,
        confidence=1.0,
        parse={DECIDED_BY_RULE: DID_NOT_FOLLOW},
    )
    await ActionHandleFallback().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_disclosure_reprompt"]
    assert "/request_human" in [b["payload"] for b in domain["responses"]["utter_disclosure_reprompt"][0]["buttons"]]


async def test_empty_message_gets_a_prompt(dispatcher, tracker_for, domain):
    await ActionHandleFallback().run(dispatcher, tracker_for("   ", "nlu_fallback"), domain)
    assert responses(dispatcher) == ["utter_empty_message"]


# --- recommendations -----------------------------------------------------------------------


@pytest.mark.parametrize("typed,answer", [("A", "A"), ("b", "B"), ("选C", "C"), ("4", "D"), ("不知道", None)])
def test_risk_answers(typed, answer):
    assert risk_answer(typed) == answer


def test_tolerance_bands():
    assert tolerance_from(["A"] * 5) == "C1" and tolerance_from(["D"] * 5) == "C5"
    assert tolerance_from(["B", "B", "C", "C", "C"]) == "C3"


async def test_recommendation_form_validation(dispatcher, tracker_for, domain):
    form = ValidateRecommendationForm()
    assert without_misses(form.validate_segment("我已经退休了", dispatcher, tracker_for(""), domain)) == {
        "segment": "retiree"
    }
    assert without_misses(form.validate_segment("火星人", dispatcher, tracker_for(""), domain)) == {"segment": None}
    assert without_misses(form.validate_amount("很多钱", dispatcher, tracker_for("很多钱"), domain)) == {"amount": None}
    assert without_misses(
        form.validate_amount(
            "二十万", dispatcher, tracker_for("二十万", entities=[ent("amount", 200000, "二十万")]), domain
        )
    ) == {"amount": 200000}
    assert without_misses(form.validate_term("-3", dispatcher, tracker_for("-3"), domain)) == {"term": None}
    assert without_misses(form.validate_goal("养老用", dispatcher, tracker_for(""), domain)) == {"goal": "retirement"}
    slots = await form.required_slots([], dispatcher, tracker_for(slots={"risk_tolerance": "C2"}), domain)
    assert slots == ["segment", "goal", "amount", "term"]
    assert "utter_invalid_amount" in responses(dispatcher)


@pytest.mark.parametrize(
    "answers,tolerance", [(["A"] * 5, "C1"), (["B"] * 5, "C2"), (["B", "C", "C", "B", "C"], "C3"), (["D"] * 5, "C5")]
)
async def test_recommendations_respect_the_questionnaire(answers, tolerance, dispatcher, tracker_for, domain, kb):
    slots = {
        "segment": "retiree",
        "goal": "saving",
        "amount": 200000,
        "term": 12,
        **{f"risk_q{i}": a for i, a in enumerate(answers, 1)},
    }
    events = await ActionRecommendProducts().run(dispatcher, tracker_for(slots=slots), domain)
    assert slots_set(events)["risk_tolerance"] == tolerance
    assert responses(dispatcher)[0] == "utter_risk_result"
    if responses(dispatcher)[1] == "utter_risk_disclosure":
        pending = slots_set(events)
        assert pending["pending_aspect"] == "recommend"
        return
    items = [msg for msg in dispatcher.messages if msg["response"] == "utter_recommendation_item"]
    assert 1 <= len(items) <= 3
    for item in items:
        assert item["reason"].startswith("因为您")
        code = kb.scalar(select(m.Product.risk_level).where(m.Product.name == item["name"]))
        assert code is None or int(code[1]) <= int(tolerance[1])


@pytest.mark.parametrize(
    "slot,typed,answer",
    [
        ("risk_q2", "不能接受任何亏损", "A"),
        ("risk_q2", "一分钱都不能亏", "A"),
        ("risk_q2", "5%以内吧", "B"),
        ("risk_q3", "保住本金最重要", "A"),
        ("risk_q4", "1-3年", "B"),
        ("risk_q1", "买过银行理财或货币基金", "B"),
        ("risk_q5", "D", "D"),
    ],
)
def test_typed_questionnaire_answers(slot, typed, answer, dispatcher, tracker_for, domain):
    form = ValidateRecommendationForm()
    assert without_misses(getattr(form, f"validate_{slot}")(typed, dispatcher, tracker_for(typed), domain)) == {
        slot: answer
    }


@pytest.mark.parametrize(
    "slot,typed,value",
    [("goal", "装修", "consumption"), ("goal", "子女教育", "education"), ("segment", "企业主", "business_owner")],
)
def test_typed_button_labels_are_accepted(slot, typed, value, dispatcher, tracker_for, domain):
    form = ValidateRecommendationForm()
    assert without_misses(getattr(form, f"validate_{slot}")(typed, dispatcher, tracker_for(typed), domain)) == {
        slot: value
    }


async def test_no_loss_caps_the_tolerance_and_keeps_to_deposits(dispatcher, tracker_for, domain, kb):
    """A retiree who accepts no loss is C1 whatever the other answers add up to, and is offered deposits only."""
    slots = {
        "segment": "retiree",
        "goal": "retirement",
        "amount": 200000,
        "term": 36,
        **{f"risk_q{i}": a for i, a in enumerate(["D", "A", "D", "D", "D"], 1)},
    }
    events = await ActionRecommendProducts().run(dispatcher, tracker_for(slots=slots), domain)
    assert slots_set(events)["risk_tolerance"] == "C1"
    items = [msg for msg in dispatcher.messages if msg.get("response") == "utter_recommendation_item"]
    assert items and "utter_risk_disclosure" not in responses(dispatcher)
    from knowledge import queries as q

    products = {p.name: p for p in q.list_products(kb)}
    for item in items:
        product = products[item["name"]]
        assert product.risk_level is None or product.category in q.DEPOSIT_CATEGORIES, item["name"]


async def test_the_customers_own_words_rule_out_loss(dispatcher, tracker_for, domain):
    form = ValidateRecommendationForm()
    tracker = tracker_for(
        "我退休了，有二十万，不能接受任何亏损，稳赚不赔的有吗", "ask_recommendation", active_loop="recommendation_form"
    )
    events = await form.run(dispatcher, tracker, domain)
    assert {"event": "slot", "name": "no_loss", "value": True, "timestamp": None} in events or slots_set(events).get(
        "no_loss"
    ) is True
    assert "utter_no_guaranteed_returns" in responses(dispatcher)


async def test_a_message_that_answers_nothing_the_form_asked_is_a_miss(dispatcher, tracker_for, domain, kb):
    """ "随便看看" asked which kind of customer: said so, and counted, and the question is asked
    again. It had filled no slot, Rasa rejected the form, and the fallback ran ten times over."""
    form = ValidateRecommendationForm()
    tracker = tracker_for(
        "随便看看", "ask_recommendation", slots={"requested_slot": "segment"}, active_loop="recommendation_form"
    )
    events = await form.run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_invalid_segment"]
    assert slots_set(events)["form_misses"] == 1


@pytest.mark.parametrize(
    "text,kinds,segment,first_category",
    [
        ("有没有适合大学生的信用卡", ["credit_card"], "student", "信用卡"),
        ("我是个体户，有什么贷款推荐", [], "business_owner", "经营贷款"),  # 贷款 names no one kind
        ("我是学生，想贷款，推荐一下", [], "student", "助学贷款"),
        ("有没有适合学生的卡", [], "student", None),  # 卡 names no one kind: both kinds of card
    ],
)
async def test_cards_and_loans_are_recommended_by_segment_alone(
    text, kinds, segment, first_category, dispatcher, tracker_for, domain, kb
):
    """ "推荐一张适合学生的信用卡" (the contract's own example) was asked what the money was for, how much
    and for how long, then five risk questions. A card or a loan is not an investment: the segment is
    the one question, and the kind's products made for the segment come first."""
    form = ValidateRecommendationForm()
    opening = tracker_for(
        text,
        "ask_recommendation",
        [ent("product_type", k) for k in kinds] + [ent("segment", segment)],
        slots={"segment": segment, "requested_slot": None},
    )
    events = await form.run(dispatcher, opening, domain)
    kind = slots_set(events)["recommend_kind"]
    assert kind == (kinds[0] if kinds else "loans" if "贷款" in text else "cards")
    assert await form.required_slots([], dispatcher, opening, domain) == ["segment"]
    assert not [r for r in responses(dispatcher) if r and r.startswith("utter_ask_")]  # nothing more to ask

    shown = CollectingDispatcher()
    done = await ActionRecommendProducts().run(
        shown, tracker_for(slots={"segment": segment, "recommend_kind": kind}), domain
    )
    assert responses(shown)[0] == "utter_recommendation_kind_intro"
    items = [msg for msg in shown.messages if msg.get("response") == "utter_recommendation_item"]
    assert 1 <= len(items) <= 3
    if first_category:
        assert items[0]["category_name"] == first_category
    else:
        assert {item["category_name"] for item in items} <= {"借记卡", "信用卡"}
    assert "utter_risk_result" not in responses(shown) and slots_set(done) == {"recommend_kind": None}


def test_an_amount_said_when_the_goal_was_asked_is_no_miss(dispatcher, tracker_for, domain):
    form = ValidateRecommendationForm()
    tracker = tracker_for("20万", "inform", [ent("amount", 200000, "20万")], slots={"requested_slot": "goal"})
    assert form.validate_goal("20万", dispatcher, tracker, domain) == {"goal": None}
    assert responses(dispatcher) == []  # the amount is taken by its own mapping; the goal is asked again
    assert without_misses(form.validate_goal("随便", dispatcher, tracker_for("随便"), domain)) == {"goal": None}
    assert responses(dispatcher) == ["utter_invalid_goal"]


async def test_an_investment_recommendation_still_asks_the_whole_profile(dispatcher, tracker_for, domain):
    form = ValidateRecommendationForm()
    opening = tracker_for(
        "有什么适合我的理财",
        "ask_recommendation",
        [ent("product_type", "wealth_management")],
        slots={"requested_slot": None},
    )
    events = await form.run(dispatcher, opening, domain)
    assert slots_set(events)["recommend_kind"] is None
    assert await form.required_slots([], dispatcher, opening, domain) == ["segment", "goal", "amount", "term"] + [
        f"risk_q{i}" for i in range(1, 6)
    ]
    mixed = tracker_for(  # a card and a fund in one request: the full recommendation, with its questionnaire
        "信用卡和基金推荐一下",
        "ask_recommendation",
        [ent("product_type", "credit_card"), ent("product_type", "fund")],
        slots={"requested_slot": None},
    )
    assert slots_set(await form.run(CollectingDispatcher(), mixed, domain))["recommend_kind"] is None


@pytest.mark.parametrize("asked_on", [dt.datetime(2026, 12, 4, 10, 0), dt.datetime(2026, 12, 5, 10, 0)])
async def test_a_saturday_question_names_saturday_whatever_day_it_is(
    asked_on, monkeypatch, dispatcher, tracker_for, domain, seed
):
    """ "周六上班吗" on a Friday gets 12月5日（周六）; asked on the Saturday itself, 今日（周六）: the day asked
    about is always named (a journey failed when it ran after midnight in Beijing on a Friday evening UTC)."""
    monkeypatch.setattr(handling, "now_local", lambda: asked_on)
    branch = seed.branches[0]
    await ActionFindBranches().run(dispatcher, tracker_for(f"{branch.name}周六上班吗", "ask_branch"), domain)
    listed = dispatcher.messages[0]["branches"]
    assert branch.name in listed and "周六" in listed
    assert ("今日" in listed) is (asked_on.weekday() == 5)
