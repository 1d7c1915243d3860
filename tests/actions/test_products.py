"""Product facts, the disclosure gate and comparisons, over a seeded knowledge base."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import calculators as calc
from actions.disclosure import ActionAcknowledgeDisclosure, ActionDeclineDisclosure
from actions.products import (
    ActionAnswerEligibility,
    ActionAnswerFaq,
    ActionAnswerFees,
    ActionAnswerFollowup,
    ActionAnswerInterestRate,
    ActionAnswerMaturity,
    ActionAnswerProductInfo,
    ActionAnswerRisk,
    ActionAnswerYes,
    ActionApplyProduct,
    ActionCompareProducts,
)
from banktext.intents import DECIDED_BY_RULE
from knowledge import models as m
from tests.actions.conftest import ROOT, ent, responses, slots_set


async def run(action, dispatcher, tracker, domain):
    return await action.run(dispatcher, tracker, domain)


async def test_product_info_by_name(dispatcher, tracker_for, domain):
    events = await run(
        ActionAnswerProductInfo(),
        dispatcher,
        tracker_for("整存整取是什么", "ask_product_info", [ent("product", "整存整取")]),
        domain,
    )
    assert responses(dispatcher) == ["utter_product_info"]
    message = dispatcher.messages[0]
    assert message["name"] == "云澜整存整取定期储蓄存款" and "50元起存" in message["features"]
    assert slots_set(events)["product_code"] == "TD-ZCZQ"


@pytest.mark.parametrize("named", ["整存整取", "整存 整取", "云澜定期", "雲瀾整存整取定期儲蓄存款"])
async def test_product_named_many_ways(named, dispatcher, tracker_for, domain):
    events = await run(
        ActionAnswerFees(), dispatcher, tracker_for(f"{named}收费吗", "ask_fees", [ent("product", named)]), domain
    )
    assert slots_set(events)["product_code"] == "TD-ZCZQ"


async def test_follow_up_uses_the_product_under_discussion(dispatcher, tracker_for, domain):
    tracker = tracker_for("那它的年费呢", "ask_fees", slots={"product_code": "CC-GOLD"})
    await run(ActionAnswerFees(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_product_fees"]
    assert "年费" in dispatcher.messages[0]["fee_table"]


async def test_product_mentioned_in_text_without_entity(dispatcher, tracker_for, domain):
    events = await run(
        ActionAnswerEligibility(), dispatcher, tracker_for("云澜整存整取定期储蓄存款谁能办", "ask_eligibility"), domain
    )
    assert slots_set(events)["product_code"] == "TD-ZCZQ"
    assert responses(dispatcher) == ["utter_product_eligibility"]


@pytest.mark.parametrize(
    "text,product,code,hotline",
    [
        ("首套房贷面签完了多久能放款", "首套房贷", "ML-FIRST", "400-696-0000"),
        ("云澜普卡信用卡申请一个礼拜了 审批到哪一步了", "云澜普卡信用卡", "CC-CLASSIC", "400-696-0001"),
    ],
)
async def test_progress_of_an_application_gets_the_steps_and_where_to_follow_it(
    text, product, code, hotline, dispatcher, tracker_for, domain
):
    events = await run(
        ActionAnswerEligibility(), dispatcher, tracker_for(text, "ask_eligibility", [ent("product", product)]), domain
    )
    assert slots_set(events)["product_code"] == code
    assert responses(dispatcher)[0] == "utter_product_progress"
    message = dispatcher.messages[0]
    assert "工作日" in message["steps"] and message["hotline"] == hotline and message["app_name"]


async def test_progress_without_a_product_asks_among_the_approved_kinds(dispatcher, tracker_for, domain):
    await run(
        ActionAnswerEligibility(), dispatcher, tracker_for("审核通过了 大概几天能寄到", "ask_eligibility"), domain
    )
    assert responses(dispatcher) == ["utter_ask_which_product"]
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert "信用卡" in titles and "活期存款" not in titles


async def test_a_product_button_after_a_progress_question_keeps_asking_progress(dispatcher, tracker_for, domain):
    tracker = tracker_for(
        '/ask_eligibility{"product": "云澜金卡信用卡"}',
        "ask_eligibility",
        [ent("product", "云澜金卡信用卡")],
        slots={"last_aspect": "progress"},
    )
    events = await run(ActionAnswerEligibility(), dispatcher, tracker, domain)
    assert responses(dispatcher)[0] == "utter_product_progress"
    assert slots_set(events)["last_aspect"] == "progress"


@pytest.mark.parametrize(
    "text,product,response",
    [
        ("首套房贷申请条件是什么", "首套房贷", "utter_product_eligibility"),
        ("金卡提额申请交了 多久有结果", "金卡", "utter_credit_limit_increase"),  # a limit, not an application
    ],
)
async def test_conditions_and_limits_are_not_taken_for_progress(
    text, product, response, dispatcher, tracker_for, domain
):
    await run(
        ActionAnswerEligibility(), dispatcher, tracker_for(text, "ask_eligibility", [ent("product", product)]), domain
    )
    assert responses(dispatcher)[0] == response


@pytest.mark.parametrize("text", ["信用卡额度怎么提高", "額度太低了能調高嗎", "想申请个临时额度"])
async def test_raising_a_credit_card_limit_is_answered_with_how(text, dispatcher, tracker_for, domain):
    """ "信用卡额度怎么提高" (the contract's own example of 提额) was answered with the student card's conditions."""
    tracker = tracker_for(text, "ask_eligibility", [ent("product_type", "credit_card", "信用卡")])
    await run(ActionAnswerEligibility(), dispatcher, tracker, domain)
    assert responses(dispatcher)[0] == "utter_credit_limit_increase"
    said = dispatcher.messages[0]
    assert said["app_name"] and said["card_hotline"] and "的额度" in said["card_limits"]
    plain = CollectingDispatcher()  # the conditions of a card are still its conditions
    await run(
        ActionAnswerEligibility(),
        plain,
        tracker_for("信用卡申请条件", "ask_eligibility", [ent("product_type", "credit_card")]),
        domain,
    )
    assert responses(plain)[0] == "utter_product_eligibility"


async def test_unknown_product_is_said_and_logged_redacted(dispatcher, tracker_for, domain, kb):
    tracker = tracker_for("火星卡年费多少 我卡号6222021234567890123", "ask_fees", [ent("product", "火星卡")])
    await run(ActionAnswerFees(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_product_not_found"]
    assert dispatcher.messages[0]["buttons"], "the category list is offered"
    logged = kb.scalars(select(m.UnansweredQuestion).where(m.UnansweredQuestion.reason == "product_not_found")).all()
    assert logged and "6222021234567890123" not in logged[-1].text and "0123" in logged[-1].text


@pytest.mark.parametrize(
    "action,text,intent,kind,name",
    [
        (ActionAnswerRisk, "那个稳稳盈基金风险大吗", "ask_risk", "fund", "稳稳盈"),
        (ActionAnswerInterestRate, "鎏金宝理财收益咋样", "ask_interest_rate", "wealth_management", "鎏金宝"),
        (ActionAnswerProductInfo, "你们有没有天天盈理财", "ask_product_info", "wealth_management", "天天盈"),
        (
            ActionAnswerInterestRate,
            "你们的鑫利3号理财到期收益多少",
            "ask_interest_rate",
            "wealth_management",
            "鑫利3号",
        ),
    ],
)
async def test_a_product_name_none_of_ours_carries_is_said_not_answered_with_another_products_facts(
    action, text, intent, kind, name, dispatcher, tracker_for, domain, kb
):
    """The NLU finds no product in a name the catalogue lacks, only its kind ("基金"): the bot says it has
    no product of that name, and does not give the risk or rate of the kind's main product as if it were it."""
    tracker = tracker_for(text, intent, [ent("product_type", kind, "基金" if kind == "fund" else "理财")])
    await run(action(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_product_not_found"]
    assert dispatcher.messages[0]["query"] == name and dispatcher.messages[0]["buttons"]
    logged = kb.scalars(select(m.UnansweredQuestion).where(m.UnansweredQuestion.text == text)).all()
    assert [row.reason for row in logged] == ["product_not_found"]


@pytest.mark.parametrize(
    "text,intent,kind",
    [
        ("天天利理财收益多少", "ask_interest_rate", "wealth_management"),  # ours, by part of its name
        ("权益理财风险大吗", "ask_risk", "wealth_management"),  # kinds, not names
        ("高收益理财有吗", "ask_product_info", "wealth_management"),
        ("大额存单和普通存款哪个好", "ask_product_info", "time_deposit"),
        ("用支付宝还信用卡要手续费吗", "ask_fees", "credit_card"),  # a platform, not a product name
        ("电话一直打不通 贷款利率多少", "ask_interest_rate", "personal_loan"),
    ],
)
async def test_our_products_kinds_and_platforms_are_no_unknown_product_name(
    text, intent, kind, dispatcher, tracker_for, domain
):
    from actions.products import ACTIONS_BY_ASPECT

    action = next(a for a in ACTIONS_BY_ASPECT.values() if a.intent == intent)
    await run(action(), dispatcher, tracker_for(text, intent, [ent("product_type", kind)]), domain)
    assert "utter_product_not_found" not in responses(dispatcher)


async def test_ambiguous_name_offers_candidates(dispatcher, tracker_for, domain):
    await run(
        ActionAnswerProductInfo(), dispatcher, tracker_for("云澜卡", "ask_product_info", [ent("product", "卡")]), domain
    )
    assert responses(dispatcher) in (["utter_choose_product"], ["utter_product_not_found"])


async def test_category_question_answers_the_main_product_and_offers_the_rest(dispatcher, tracker_for, domain):
    tracker = tracker_for("信用卡年费多少", "ask_fees", [ent("product_type", "credit_card", "信用卡")])
    await run(ActionAnswerFees(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_product_fees", "utter_other_products"]
    assert len(dispatcher.messages[1]["buttons"]) >= 1


@pytest.mark.parametrize(
    "text,kind,risk_range,count",
    [
        ("理财产品保本吗", "wealth_management", "从 R1 到 R4", 6),
        ("基金风险大不大", "fund", "从 R1 到 R5", 6),
        ("这类产品会不会亏本", "precious_metal", "从 R3 到 R5", 4),
    ],
)
async def test_a_risk_question_about_a_kind_of_investment_is_answered_for_the_kind_not_its_safest_product(
    text, kind, risk_range, count, dispatcher, tracker_for, domain
):
    """ "理财产品保本吗" was answered with the cash-management product's "R1, very low risk" as if it were all
    wealth products: now the kind's whole range, each product's level, and that none is principal-guaranteed."""
    await run(ActionAnswerRisk(), dispatcher, tracker_for(text, "ask_risk", [ent("product_type", kind)]), domain)
    assert responses(dispatcher) == ["utter_category_risk"]
    said = dispatcher.messages[0]
    assert said["risk_range"] == risk_range and said["count"] == count and len(said["buttons"]) == count
    levels = [line.rsplit("：", 1)[1][:2] for line in said["product_list"].splitlines()]
    assert levels == sorted(levels)  # lowest risk first
    template = domain["responses"]["utter_category_risk"][0]["text"]
    assert "不保本" in template and "不承诺收益" in template and "保本理财" not in template


async def test_lower_risk_after_a_kinds_list_gives_its_lower_risk_products(dispatcher, tracker_for, domain, kb):
    """ "稳健一点的" after the list of wealth products got the same list again."""
    from knowledge import queries as q

    tracker = tracker_for("稳健一点的", "inform", slots={"product_type": "wealth_management", "last_aspect": "info"})
    await run(ActionAnswerFollowup(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_category_lower_risk"]
    listed = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    expected = [p.name for p in q.list_products(kb, category="wealth_management") if p.risk_rank <= 2]
    assert sorted(listed) == sorted(expected) and listed
    template = domain["responses"]["utter_category_lower_risk"][0]["text"]
    assert "不保本" in template and "不承诺收益" in template


async def test_a_risk_question_about_insurance_is_answered_for_the_kind(dispatcher, tracker_for, domain):
    """ "你们的保险靠谱吗" was answered with the pension annuity's "R1, loss of principal very unlikely" as if it
    were every insurance product: now each product's level, and what insurance is not (a deposit, a promise)."""
    tracker = tracker_for("你们的保险靠谱吗", "ask_risk", [ent("product_type", "insurance")])
    await run(ActionAnswerRisk(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_category_risk_insurance"]
    said = dispatcher.messages[0]
    assert said["risk_range"] == "从 R1 到 R2" and said["count"] == 5
    template = domain["responses"]["utter_category_risk_insurance"][0]["text"]
    assert "不是存款" in template and "不承诺收益" in template and "现金价值" in template


@pytest.mark.parametrize(
    "text,name",
    [("我想贷款买车", "云澜个人汽车消费贷款"), ("想贷款装修房子", "云澜家装消费贷款")],
)
async def test_a_loan_named_by_its_purpose_is_that_loan(text, name, dispatcher, tracker_for, domain):
    """ "我想贷款买车" named no product: it was answered with the loan-repayment how-to."""
    await run(ActionApplyProduct(), dispatcher, tracker_for(text, "apply_product"), domain)
    assert name in str(dispatcher.messages[0]) and "utter_faq" not in str(responses(dispatcher))


@pytest.mark.parametrize("text,intent", [("贷款被拒了为什么", "ask_eligibility"), ("我想贷款", "apply_product")])
async def test_a_loan_question_naming_no_loan_asks_which_not_the_repayment_how_to(
    text, intent, dispatcher, tracker_for, domain
):
    from actions.products import ACTIONS_BY_ASPECT

    action = next(a for a in ACTIONS_BY_ASPECT.values() if a.intent == intent)
    how_to = "utter_faq/loan_repayment_management"  # the selector's pick, sure of it, and it says 贷款
    faq = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    domain = {**domain, "responses": {**domain["responses"], how_to: faq[how_to]}}
    selected = {"response_selector": {"faq": {"response": {"utter_action": how_to, "confidence": 0.9}}}}
    await run(action(), dispatcher, tracker_for(text, intent, parse=selected), domain)
    assert responses(dispatcher) == ["utter_ask_which_product"]
    assert dispatcher.messages[0]["buttons"], "the kinds of loan are offered"


@pytest.mark.parametrize(
    "text,last_faq,selected,expected",
    [
        # the how-to just given speaks of U盾 and 网银: it is given again, whatever the selector says
        ("那用U盾的网银呢", "transfer_limit", "usb_key_usage", "transfer_limit"),
        # 卡逾期 is in the credit card's how-to's title and nowhere in the loan's: the credit card's
        ("信用卡逾期了呢", "loan_overdue", "credit_card_overdue", "credit_card_overdue"),
        ("那信用卡逾期呢", "loan_overdue", "credit_card_overdue", "credit_card_overdue"),
    ],
)
async def test_a_follow_up_on_a_how_to_keeps_it_unless_it_names_another(
    text, last_faq, selected, expected, dispatcher, tracker_for, domain
):
    faq = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    domain = {**domain, "responses": {**domain["responses"], **faq}}
    parse = {"response_selector": {"faq": {"response": {"utter_action": f"utter_faq/{selected}", "confidence": 0.95}}}}
    tracker = tracker_for(text, "faq", slots={"last_faq": last_faq, "last_aspect": None}, parse=parse)
    await run(ActionAnswerFaq(), dispatcher, tracker, domain)
    assert responses(dispatcher) == [f"utter_faq/{expected}"]


def _ranked(*picks: tuple[str, float]) -> dict:
    ranking = [{"intent_response_key": f"faq/{topic}", "confidence": c} for topic, c in picks]
    top = {"utter_action": f"utter_faq/{picks[0][0]}", "confidence": picks[0][1]}
    return {"response_selector": {"faq": {"response": top, "ranking": ranking}}}


@pytest.mark.parametrize(
    "picks,offered",
    [
        # unsure: the pick is answered, its next picks offered by title
        (
            [("credit_card_overdue", 0.22), ("card_pin_reset_unlock", 0.2), ("account_restriction_release", 0.15)],
            ["取款密码/交易密码忘记与锁定", "账户冻结、止付与非柜面受限解除"],
        ),
        # a next pick the selector hardly considers is not offered
        (
            [("credit_card_overdue", 0.22), ("card_pin_reset_unlock", 0.2), ("account_closure", 0.05)],
            ["取款密码/交易密码忘记与锁定"],
        ),
        # sure: the answer alone
        ([("credit_card_overdue", 0.9), ("card_pin_reset_unlock", 0.05)], None),
    ],
)
async def test_an_unsure_how_to_offers_the_next_ones(picks, offered, dispatcher, tracker_for, domain, kb):
    """ "我的信用卡被锁了" got the credit card's overdue how-to, the selector at 0.22 and the PIN's
    close behind: one click now reaches it."""
    faq = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    domain = {**domain, "responses": {**domain["responses"], **faq}}
    await run(ActionAnswerFaq(), dispatcher, tracker_for("我的信用卡被锁了", "faq", parse=_ranked(*picks)), domain)
    said = responses(dispatcher)
    assert said[0] == f"utter_faq/{picks[0][0]}"
    if offered is None:
        assert "utter_other_how_tos" not in said
        return
    other = dispatcher.messages[said.index("utter_other_how_tos")]
    assert [b["title"] for b in other["buttons"]] == offered
    # the button answers the how-to it names
    clicked = CollectingDispatcher()
    payload_entities = json.loads(other["buttons"][0]["payload"].removeprefix("/faq"))
    click = tracker_for(other["buttons"][0]["payload"], "faq", [ent("faq_topic", payload_entities["faq_topic"])])
    await run(ActionAnswerFaq(), clicked, click, domain)
    assert responses(clicked) == ["utter_faq/card_pin_reset_unlock"]


@pytest.mark.parametrize(
    "text,intent,last_faq,expected",
    [
        # the how-to just given lists what to bring: it is given again
        (
            "要带什么",
            "ask_required_documents",
            "deceased_account_inheritance",
            "utter_faq/deceased_account_inheritance",
        ),
        ("那需要准备什么材料", "ask_required_documents", "account_closure", "utter_faq/account_closure"),
        # a subject of its own, or no how-to before: which product, as before
        ("信用卡要带什么", "ask_required_documents", "deceased_account_inheritance", None),
        ("要带什么", "ask_required_documents", None, None),
    ],
)
async def test_what_to_bring_after_a_how_to_is_that_how_to(
    text, intent, last_faq, expected, dispatcher, tracker_for, domain, kb
):
    from actions.products import ACTIONS_BY_ASPECT

    faq = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    domain = {**domain, "responses": {**domain["responses"], **faq}}
    action = next(a for a in ACTIONS_BY_ASPECT.values() if a.intent == intent)
    tracker = tracker_for(text, intent, slots={"last_faq": last_faq, "last_aspect": None})
    await run(action(), dispatcher, tracker, domain)
    if expected:
        assert responses(dispatcher) == [expected]
    else:
        assert not any(str(r).startswith("utter_faq/") for r in responses(dispatcher))


async def test_words_every_product_of_a_kind_shares_pick_none_of_them(dispatcher, tracker_for, domain, kb):
    """ "我爸70了还能办信用卡吗" was answered with the student card's conditions (its alias 青春信用
    shares 信用 with 信用卡); "我们公司50个人" after the payroll fees, with the account opening's fees
    (its alias 公司开户 shares 公司)."""
    card = tracker_for("我爸70了还能办信用卡吗", "ask_eligibility", [ent("product_type", "credit_card", "信用卡")])
    await run(ActionAnswerEligibility(), dispatcher, card, domain)
    assert "青春" not in str(dispatcher.messages[0])
    payroll = CollectingDispatcher()
    slots = {"product_code": "CS-PAYROLL", "product_type": "corporate_settlement", "last_aspect": "fees"}
    await run(ActionAnswerFollowup(), payroll, tracker_for("我们公司50个人", "inform", slots=slots), domain)
    assert "代发工资" in str(payroll.messages[0]) and "开户" not in str(payroll.messages[0])


@pytest.mark.parametrize(
    "text,intent,selected,expected",
    [
        ("他年纪大了走不动，我能替他去办吗", "ask_eligibility", None, "utter_faq/proxy_and_home_service"),
        ("我去帮我老婆办张卡可以吗", "apply_product", None, "utter_faq/proxy_and_home_service"),
        # the inheritance how-to is for the holder who died, not for one who cannot come
        ("我妈瘫痪在床 卡里的钱怎么取出来", "faq", "deceased_account_inheritance", "utter_faq/proxy_and_home_service"),
        (
            "我爸去世了 他卡里的钱怎么取",
            "faq",
            "deceased_account_inheritance",
            "utter_faq/deceased_account_inheritance",
        ),
        # asking for someone is not doing business for them
        ("帮我爸问一下大额存单利率多少", "ask_interest_rate", None, None),
    ],
)
async def test_business_done_for_someone_else_gets_that_how_to(
    text, intent, selected, expected, dispatcher, tracker_for, domain, kb
):
    from actions.products import ACTIONS_BY_ASPECT

    faq = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    domain = {**domain, "responses": {**domain["responses"], **faq}}
    parse = {"response_selector": {"faq": {"response": {"utter_action": f"utter_faq/{selected}", "confidence": 0.9}}}}
    tracker = tracker_for(text, intent, parse=parse if selected else None)
    if intent == "faq":
        action = ActionAnswerFaq()
    else:
        action = next(a for a in ACTIONS_BY_ASPECT.values() if a.intent == intent)()
    await run(action, dispatcher, tracker, domain)
    said = responses(dispatcher)
    if expected:
        assert said[0] == expected, said
    else:
        assert "utter_faq/proxy_and_home_service" not in said


@pytest.mark.parametrize("text,expected", [("白金的", "云澜白金信用卡"), ("好的", None), ("嗯", None)])
async def test_a_yes_that_names_another_product_of_the_kind_asks_about_it(
    text, expected, dispatcher, tracker_for, domain
):
    """ "白金的" after the card application was read as a yes: "好的。还有什么可以帮您？"."""
    slots = {"last_aspect": "apply", "product_code": "CC-CLASSIC", "product_type": "credit_card"}
    await run(ActionAnswerYes(), dispatcher, tracker_for(text, "affirm", slots=slots), domain)
    if expected:
        assert expected in str(dispatcher.messages[0]) and "utter_anything_else" not in responses(dispatcher)
    else:
        assert responses(dispatcher) == ["utter_anything_else"]


async def test_a_question_while_a_disclosure_waits_is_about_its_product(dispatcher, tracker_for, domain, kb):
    """ "积存金是什么" showed the disclosure; "怎么买", unanswered disclosure pending, was asked which
    kind of product. It is about the gold account: the disclosure is shown again, now for buying."""
    slots = {"disclosure_pending": True, "disclosure_product": "PM-ACCUM", "pending_aspect": "info"}
    events = await run(ActionApplyProduct(), dispatcher, tracker_for("怎么买", "apply_product", slots=slots), domain)
    assert responses(dispatcher) == ["utter_risk_disclosure"]
    assert dispatcher.messages[0]["name"] == "云澜如意积存金"
    assert slots_set(events)["pending_aspect"] == "apply"


async def test_words_that_fit_several_products_offer_them_to_choose(dispatcher, tracker_for, domain):
    """ "你们有养老金融产品吗" names no kind and no product, but pension products of four kinds: they are
    offered (it was "which kind of product?" with the kinds, none of them the pension products)."""
    events = await run(
        ActionAnswerProductInfo(), dispatcher, tracker_for("你们有养老金融产品吗", "ask_product_info"), domain
    )
    assert responses(dispatcher) == ["utter_choose_product"]
    assert slots_set(events)["last_aspect"] == "info"  # a follow-up before choosing asks the same question
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert len(titles) >= 4 and all("养老" in t or "银发" in t for t in titles), titles
    other = CollectingDispatcher()
    await run(ActionAnswerFees(), other, tracker_for("手续费多少", "ask_fees"), domain)
    assert responses(other) == ["utter_ask_which_product"]  # words that fit no product: the kinds


async def test_saving_an_amount_for_a_term_is_a_time_deposit(dispatcher, tracker_for, domain):
    """ "我想存10万，存三年，利息多少" names no kind: it was answered with "which kind of product?"."""
    amount, term = ent("amount", 100000, "10万"), ent("term", 36, "三年")
    await run(
        ActionAnswerInterestRate(),
        dispatcher,
        tracker_for("我想存10万，存三年，利息多少", "ask_interest_rate", [amount, term]),
        domain,
    )
    assert responses(dispatcher)[0] != "utter_ask_which_product"
    assert "整存整取" in str(dispatcher.messages[0])
    # without a term, or about a product under discussion, 存 decides nothing
    for text, entities, slots in (
        ("存10万利息多少", [amount], {}),
        ("存三年呢", [term], {"product_code": "CD-STD"}),
    ):
        other = CollectingDispatcher()
        await run(
            ActionAnswerInterestRate(), other, tracker_for(text, "ask_interest_rate", entities, slots=slots), domain
        )
        assert "整存整取" not in str(other.messages), text


async def test_a_term_asked_after_the_table_gets_that_terms_rate(dispatcher, tracker_for, domain):
    """ "两年的呢" after the time deposit's table got the whole table again."""
    slots = {"product_code": "TD-ZCZQ", "product_type": "time_deposit", "last_aspect": "rate"}
    tracker = tracker_for("两年的呢", "ask_interest_rate", [ent("term", 24, "两年")], slots=slots)
    await run(ActionAnswerInterestRate(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_product_rates", "utter_calc_needs_amount"]
    table = dispatcher.messages[0]["rate_table"]
    assert "2年" in table and "1.05" in table and "3年" not in table and "\n" not in table


@pytest.mark.parametrize("text,kind", [("定期存款保本吗", "time_deposit"), ("保险有风险吗", "insurance")])
async def test_deposits_and_insurance_keep_their_own_risk_answers(text, kind, dispatcher, tracker_for, domain):
    await run(ActionAnswerRisk(), dispatcher, tracker_for(text, "ask_risk", [ent("product_type", kind)]), domain)
    assert "utter_category_risk" not in responses(dispatcher)


async def test_nothing_named_asks_which_product(dispatcher, tracker_for, domain):
    await run(ActionAnswerInterestRate(), dispatcher, tracker_for("利率多少", "ask_interest_rate"), domain)
    assert responses(dispatcher) == ["utter_ask_which_product"]
    assert any(b["payload"].startswith("/ask_interest_rate{") for b in dispatcher.messages[0]["buttons"])


# --- the disclosure gate ---------------------------------------------------------------

#: The turn that showed a disclosure: the customer's question, then the gate's slot.
DISCLOSURE_SHOWN = [
    {"event": "user", "text": "介绍一下这款产品"},
    {"event": "slot", "name": "disclosure_pending", "value": True},
]


async def test_risky_product_needs_disclosure_first(dispatcher, tracker_for, domain, kb):
    tracker = tracker_for("睿远混合理财怎么样", "ask_product_info", [ent("product", "云澜睿远混合类一年持有期理财")])
    events = await run(ActionAnswerProductInfo(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_risk_disclosure"]
    assert slots_set(events) == {"disclosure_pending": True, "disclosure_product": "WM-MIX", "pending_aspect": "info"}
    assert "R3" in dispatcher.messages[0]["risk_level"]

    ack = tracker_for(
        "我已阅读并知晓风险",
        "affirm",
        slots={**slots_set(events)},
        sender_id="wechat:o-secret-id",
        events=[{"event": "user", "text": "睿远混合理财怎么样"}, *events],
        parse={DECIDED_BY_RULE: "affirm"},
    )
    dispatcher.messages.clear()
    events = await run(ActionAcknowledgeDisclosure(), dispatcher, ack, domain)
    assert responses(dispatcher) == ["utter_disclosure_acknowledged", "utter_product_info"]
    assert slots_set(events)["acknowledged_products"] == ["WM-MIX"]
    assert slots_set(events)["disclosure_pending"] is False
    record = kb.scalars(
        select(m.DisclosureAcknowledgement).where(m.DisclosureAcknowledgement.product_code == "WM-MIX")
    ).all()[-1]
    assert record.disclosure_version and "o-secret-id" not in record.conversation_ref


async def test_acknowledged_product_is_not_gated_again(dispatcher, tracker_for, domain):
    tracker = tracker_for(
        "睿远混合理财利率",
        "ask_interest_rate",
        [ent("product", "云澜睿远混合类一年持有期理财")],
        slots={"acknowledged_products": ["WM-MIX"]},
    )
    await run(ActionAnswerInterestRate(), dispatcher, tracker, domain)
    assert responses(dispatcher) in (["utter_product_rates"], ["utter_product_no_rates"])


async def test_declined_disclosure_gives_no_details(dispatcher, tracker_for, domain, kb):
    before = kb.scalar(select(m.DisclosureAcknowledgement.id).order_by(m.DisclosureAcknowledgement.id.desc()))
    tracker = tracker_for(
        "不了解了",
        "deny",
        slots={"disclosure_pending": True, "disclosure_product": "FD-QDII", "pending_aspect": "apply"},
        events=DISCLOSURE_SHOWN,
    )
    events = await run(ActionDeclineDisclosure(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_disclosure_declined"]
    assert slots_set(events)["disclosure_pending"] is False
    assert kb.scalar(select(m.DisclosureAcknowledgement.id).order_by(m.DisclosureAcknowledgement.id.desc())) == before


@pytest.mark.parametrize(
    "code,name,gated",
    [
        ("TD-ZCZQ", "云澜整存整取定期储蓄存款", False),  # R1 deposit
        ("FD-MMF", "澜山货币市场基金A（云澜代销）", True),  # R1, but every fund is disclosed
        ("WM-EQUITY", "云澜锐进权益精选理财", True),  # R4
    ],
)
async def test_who_is_gated(code, name, gated, dispatcher, tracker_for, domain):
    await run(
        ActionApplyProduct(), dispatcher, tracker_for(f"我想买{name}", "apply_product", [ent("product", name)]), domain
    )
    assert (responses(dispatcher)[0] == "utter_risk_disclosure") is gated


async def test_risk_question_is_answered_without_gate(dispatcher, tracker_for, domain):
    await run(
        ActionAnswerRisk(),
        dispatcher,
        tracker_for(
            "QDII风险大吗", "ask_risk", [ent("product", "澜山纳斯达克100指数QDII基金（人民币份额，云澜代销）")]
        ),
        domain,
    )
    assert responses(dispatcher) == ["utter_product_risk"]
    assert dispatcher.messages[0]["risk_level"] == "R5"


async def test_apply_above_tolerance_is_refused_with_reason(dispatcher, tracker_for, domain):
    tracker = tracker_for(
        "我要买锐进权益",
        "apply_product",
        [ent("product", "云澜锐进权益精选理财")],
        slots={"risk_tolerance": "C2", "acknowledged_products": ["WM-EQUITY"]},
    )
    await run(ActionApplyProduct(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_not_suitable"]
    assert dispatcher.messages[0]["product_risk"] == "R4" and dispatcher.messages[0]["max_risk"] == "R2"


# --- calculators in the rate answer ----------------------------------------------------


async def test_deposit_interest(dispatcher, tracker_for, domain):
    tracker = tracker_for(
        "整存整取存10万一年利息多少",
        "ask_interest_rate",
        [ent("product", "整存整取"), ent("amount", 100000, "10万"), ent("term", 12, "一年")],
    )
    await run(ActionAnswerInterestRate(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_deposit_interest"]
    assert dispatcher.messages[0]["interest"] == "950.00" and dispatcher.messages[0]["total"] == "100,950.00"


async def test_a_kind_typed_after_the_kinds_were_offered_is_asked_the_same_question(dispatcher, tracker_for, domain):
    """ "我想办张卡" offers the kinds as buttons; "借记卡" typed instead of pressed was answered with what a
    debit card is (or, read by the classifier, with the lost-card steps): it is the application asked about."""
    events = await run(ActionApplyProduct(), dispatcher, tracker_for("我想办张卡", "apply_product"), domain)
    assert responses(dispatcher) == ["utter_ask_which_product"]
    assert slots_set(events)["last_aspect"] == "apply"
    typed = CollectingDispatcher()
    tracker = tracker_for(
        "借记卡", "inform", [ent("product_type", "debit_card", "借记卡")], slots={"last_aspect": "apply"}
    )
    await run(ActionAnswerFollowup(), typed, tracker, domain)
    assert responses(typed)[0] == "utter_product_apply" and "借记卡" in typed.messages[0]["name"]


async def test_a_currency_and_a_term_keep_the_foreign_currency_deposit_under_discussion(
    dispatcher, tracker_for, domain
):
    """ "美元一年期呢" after the foreign-currency deposit's rates: 美元 names the forex kind too, whose first
    product (the exchange service) answered with its price list."""
    tracker = tracker_for(
        "美元一年期呢",
        "ask_interest_rate",
        [ent("term", 12, "一年"), ent("product_type", "forex", "美元")],
        slots={"product_code": "FX-DEPOSIT"},
    )
    await run(ActionAnswerInterestRate(), dispatcher, tracker, domain)
    assert dispatcher.messages[0]["name"] == "云澜个人外币储蓄存款"
    other = CollectingDispatcher()  # with no term it is the kind, as before
    await run(
        ActionAnswerInterestRate(),
        other,
        tracker_for(
            "美元汇率多少", "ask_interest_rate", [ent("product_type", "forex")], slots={"product_code": "FX-DEPOSIT"}
        ),
        domain,
    )
    assert other.messages[0]["name"] == "云澜个人结售汇"


@pytest.mark.parametrize(
    "before,said",
    [
        ("report_fraud", "utter_emergency_first_step"),
        ("report_lost_card", "utter_emergency_first_step"),
        ("ask_fees", "utter_what_happened"),
    ],
)
async def test_what_now_after_an_emergency_is_its_first_step_with_a_person(
    before, said, dispatcher, tracker_for, domain
):
    """ "怎么办啊 急" right after reporting fraud was read as an application: "which kind of product?"."""
    earlier = [{"event": "user", "text": "…", "parse_data": {"intent": {"name": before}}}]
    tracker = tracker_for("怎么办啊 急", "inform", parse={DECIDED_BY_RULE: "what_now"}, events=earlier)
    await run(ActionAnswerFollowup(), dispatcher, tracker, domain)
    assert responses(dispatcher) == [said]
    assert "/request_human" in {b["payload"] for b in domain["responses"][said][0]["buttons"]}
    if said == "utter_emergency_first_step":
        assert dispatcher.messages[0]["hotline"] == "400-696-0000"


async def test_which_deposit_pays_most_is_answered_across_the_deposits(dispatcher, tracker_for, domain, kb):
    """ "存款利率最高的是哪个" was answered with "which kind of product?"."""
    from knowledge import queries as q

    events = await run(
        ActionAnswerInterestRate(), dispatcher, tracker_for("存款利率最高的是哪个", "ask_interest_rate"), domain
    )
    assert responses(dispatcher) == ["utter_highest_rates"] and slots_set(events)["last_aspect"] == "rate"
    rows = dispatcher.messages[0]["rates"].splitlines()
    deposits = [p for p in q.list_products(kb) if p.category in q.DEPOSIT_CATEGORIES and p.rates]
    best = max(deposits, key=lambda p: max(r.rate for r in p.rates))
    assert best.name in rows[0] and f"{float(max(r.rate for r in best.rates)):g}%" in rows[0]
    rates = [float(row.split("%")[0].split()[-1]) for row in rows]
    assert rates == sorted(rates, reverse=True)
    fixed = CollectingDispatcher()  # a kind of deposit named: that kind's products only
    await run(
        ActionAnswerInterestRate(),
        fixed,
        tracker_for("哪个定期利息最多", "ask_interest_rate", [ent("product_type", "time_deposit")]),
        domain,
    )
    names = {p.name for p in q.list_products(kb, category="time_deposit")}
    assert all(any(n in row for n in names) for row in fixed.messages[0]["rates"].splitlines())
    other = CollectingDispatcher()  # a loan's rate is no deposit question
    await run(
        ActionAnswerInterestRate(),
        other,
        tracker_for("哪个贷款利率最高", "ask_interest_rate", [ent("product_type", "mortgage")]),
        domain,
    )
    assert "utter_highest_rates" not in responses(other)


@pytest.mark.parametrize("text", ["想给孩子存教育金", "我退休了，手上有二十万"])
async def test_a_customer_who_says_what_the_money_is_for_is_offered_advice(text, dispatcher, tracker_for, domain):
    """ "想给孩子存教育金", read as a follow-up with nothing under discussion, was asked which kind of product."""
    entities = [ent("segment", "retiree"), ent("amount", 200000)] if "退休" in text else []
    events = await run(ActionAnswerFollowup(), dispatcher, tracker_for(text, "inform", entities), domain)
    assert {"event": "followup", "name": "recommendation_form", "timestamp": None} in events


async def test_withdrawing_a_fixed_deposit_early_is_worked_out(dispatcher, tracker_for, domain, kb):
    """ "三年定期提前取出来会损失多少" was answered with the deposit's risk level; the cost of withdrawing early
    is the demand rate for the time held, beside what the term would have paid."""
    from knowledge import queries as q

    asked = tracker_for(
        "三年定期提前取出来会损失多少",
        "ask_risk",
        [ent("term", 36, "三年"), ent("product_type", "time_deposit", "定期")],
    )
    events = await run(ActionAnswerRisk(), dispatcher, asked, domain)
    assert responses(dispatcher) == ["utter_product_maturity", "utter_early_withdrawal_ask"]
    assert slots_set(events)["last_aspect"] == "maturity"

    worked = CollectingDispatcher()
    told = tracker_for(
        "存了10万 存了一年半",
        "inform",
        [ent("amount", 100000, "10万"), ent("term", 18, "一年半")],
        slots={"product_code": "TD-ZCZQ", "last_aspect": "maturity", "term": 18},
        events=[{"event": "slot", "name": "term", "value": 36}],
    )
    await run(ActionAnswerFollowup(), worked, told, domain)
    assert responses(worked) == ["utter_early_withdrawal_interest"]
    said = worked.messages[0]
    three_years = q.rate_for_term(kb, "TD-ZCZQ", 36).row.rate
    assert said["early_interest"] == f"{calc.deposit_interest(100000, q.demand_rate(kb), 18):,}" == "75.00"
    assert said["full_interest"] == f"{calc.deposit_interest(100000, three_years, 36):,}"
    assert (said["held_label"], said["term_label"]) == ("18个月", "3年")


async def test_saving_money_offers_the_kinds_of_deposit(dispatcher, tracker_for, domain):
    """ "我想存钱" was offered every kind of product, loans and credit cards among them."""
    await run(ActionApplyProduct(), dispatcher, tracker_for("我想存钱", "apply_product"), domain)
    assert responses(dispatcher) == ["utter_ask_which_product"]
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["活期存款", "定期存款", "大额存单"]
    higher = CollectingDispatcher()  # "有没有利息高一点的" next: the deposits' best rates
    await run(ActionAnswerInterestRate(), higher, tracker_for("有没有利息高一点的", "ask_interest_rate"), domain)
    assert responses(higher) == ["utter_highest_rates"]


@pytest.mark.parametrize("text", ["转账手续费多少", "轉帳手續費多少"])
async def test_a_fee_named_without_a_product_is_given_for_every_product_that_charges_it(
    text, dispatcher, tracker_for, domain
):
    """ "转账手续费多少" was asked which kind of product."""
    events = await run(ActionAnswerFees(), dispatcher, tracker_for(text, "ask_fees"), domain)
    assert responses(dispatcher) == ["utter_fee_across_products"] and slots_set(events)["last_aspect"] == "fees"
    said = dispatcher.messages[0]
    assert said["fee"] == "转账手续费" and "云澜银行App（个人手机银行）：免费" in said["fee_table"]
    assert {b["title"] for b in said["buttons"]} >= {"云澜银行App（个人手机银行）", "云澜个人网上银行"}
    plain = CollectingDispatcher()  # a fee of no particular name still asks which product
    await run(ActionAnswerFees(), plain, tracker_for("手续费多少", "ask_fees"), domain)
    assert responses(plain) == ["utter_ask_which_product"]


async def test_applying_for_less_than_the_minimum_says_so(dispatcher, tracker_for, domain):
    tracker = tracker_for(
        "我想买10万的大额存单 3年",
        "apply_product",
        [ent("amount", 100000, "10万"), ent("product_type", "certificate_of_deposit", "大额存单")],
    )
    await run(ActionApplyProduct(), dispatcher, tracker, domain)
    assert responses(dispatcher)[:2] == ["utter_product_apply", "utter_calc_below_minimum"]
    assert dispatcher.messages[1]["low"] == "200,000"


async def test_the_sum_at_maturity_is_worked_out(dispatcher, tracker_for, domain):
    """ "存5万一年定期到期多少钱" reads as a maturity question; it asks for the sum, not the maturity rules."""
    entities = [ent("amount", 50000, "5万"), ent("term", 12, "一年"), ent("product_type", "time_deposit", "定期")]
    await run(
        ActionAnswerMaturity(), dispatcher, tracker_for("存5万一年定期到期多少钱", "ask_maturity", entities), domain
    )
    assert responses(dispatcher) == ["utter_deposit_interest"]
    assert dispatcher.messages[0]["interest"] == "475.00" and dispatcher.messages[0]["total"] == "50,475.00"
    when = CollectingDispatcher()  # when it matures is still the maturity rules
    await run(ActionAnswerMaturity(), when, tracker_for("我5万三年定期什么时候到期", "ask_maturity", entities), domain)
    assert responses(when)[0] == "utter_product_maturity"


async def test_interest_on_an_amount_below_the_minimum_says_it_cannot_be_deposited(dispatcher, tracker_for, domain):
    tracker = tracker_for(
        "10万存三年利息多少",
        "ask_interest_rate",
        [ent("amount", 100000, "10万"), ent("term", 36, "三年")],
        slots={"product_code": "CD-STD"},
    )
    await run(ActionAnswerInterestRate(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_deposit_interest", "utter_calc_below_minimum"]
    assert dispatcher.messages[1]["low"] == "200,000" and dispatcher.messages[1]["amount"] == "100,000"


@pytest.mark.parametrize(
    "text,amount,verdict",
    [
        ("20万可以吗", 200000, "在这个范围内"),
        ("那10万呢", 100000, "低于起点金额 200,000 元"),
        ("大额存单有什么条件", None, ""),
    ],
)
async def test_an_amount_is_checked_against_the_products_minimum(
    text, amount, verdict, dispatcher, tracker_for, domain
):
    entities = [ent("amount", amount)] if amount else []
    tracker = tracker_for(text, "ask_eligibility", entities, slots={"product_code": "CD-STD"})
    await run(ActionAnswerEligibility(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_product_eligibility"]
    limits = dispatcher.messages[0]["limits"]
    assert "200,000" in limits and (verdict in limits if verdict else "您说的" not in limits)


def _amount_at(text: str, said: str, value: float) -> dict:
    start = text.index(said)
    return {**ent("amount", value, said), "start": start, "end": start + len(said)}


@pytest.mark.parametrize(
    "text,said,value,label,given,result",
    [
        ("换1000美元要多少人民币", "1000", 1000, "美元现汇卖出价", "1,000 美元", "7,126.00 元人民币"),
        ("500欧元能换多少人民币", "500", 500, "欧元现汇买入价", "500 欧元", "4,094.50 元人民币"),
        ("1万人民币能换多少美元", "1万", 10000, "美元现汇卖出价", "10,000 元人民币", "1,403.31 美元"),
        ("我有三万日元 结汇能拿多少钱", "三万", 30000, "日元现汇买入价", "30,000 日元", "1,359.30 元人民币"),
    ],
)
async def test_a_currency_exchange_is_worked_out_at_the_quoted_price(
    text, said, value, label, given, result, dispatcher, tracker_for, domain
):
    """Buying foreign money is at the bank's selling price, selling it at its buying price."""
    tracker = tracker_for(text, "ask_interest_rate", [_amount_at(text, said, value), ent("product_type", "forex")])
    await run(ActionAnswerInterestRate(), dispatcher, tracker, domain)
    assert responses(dispatcher)[0] == "utter_fx_conversion"
    said_back = dispatcher.messages[0]
    assert (said_back["label"], said_back["given"], said_back["result"]) == (label, given, result)
    plain = CollectingDispatcher()  # no amount: the price list, as before
    await run(
        ActionAnswerInterestRate(),
        plain,
        tracker_for("美元汇率多少", "ask_interest_rate", [ent("product_type", "forex")]),
        domain,
    )
    assert responses(plain)[0] == "utter_product_rates"


async def test_loan_repayment(dispatcher, tracker_for, domain, kb):
    tracker = tracker_for(
        "首套房贷100万30年月供多少",
        "ask_interest_rate",
        [ent("product", "云澜首套个人住房贷款"), ent("amount", 1000000, "100万"), ent("term", 360, "30年")],
    )
    await run(ActionAnswerInterestRate(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_loan_repayment"]
    rate = kb.scalar(
        select(m.RateRow.rate).join(m.Product).where(m.Product.code == "ML-FIRST").order_by(m.RateRow.position)
    )
    plan = calc.loan_repayment(1000000, rate, 360)
    assert dispatcher.messages[0]["annuity_monthly"] == f"{plan.annuity_monthly:,}"


@pytest.mark.parametrize(
    "amount,term,expected",
    [
        (-5, 12, "utter_invalid_amount"),
        (0, 12, "utter_invalid_amount"),
        ("很多", 12, "utter_invalid_amount"),
        (10000, 0, "utter_invalid_term"),
        (10000, 9999, "utter_invalid_term"),
        (10000, 7, "utter_term_not_offered"),
    ],
)
async def test_impossible_calculator_input_asks_again(amount, term, expected, dispatcher, tracker_for, domain):
    tracker = tracker_for(
        "整存整取利息", "ask_interest_rate", [ent("product", "整存整取"), ent("amount", amount), ent("term", term)]
    )
    await run(ActionAnswerInterestRate(), dispatcher, tracker, domain)
    assert responses(dispatcher) == [expected]


# --- comparison ------------------------------------------------------------------------


async def test_compare_two_deposits(dispatcher, tracker_for, domain):
    tracker = tracker_for(
        "定期和大额存单哪个好",
        "compare_products",
        [ent("product_type", "time_deposit", "定期"), ent("product_type", "certificate_of_deposit", "大额存单")],
    )
    await run(ActionCompareProducts(), dispatcher, tracker, domain)
    names = responses(dispatcher)
    assert names[0] == "utter_compare_intro" and names[-1] == "utter_compare_outro"
    rows = [msg for msg in dispatcher.messages if msg["response"] == "utter_compare_row"]
    assert rows[0]["label"] == "利率/收益" and "云澜整存整取" in rows[0]["values"]


async def test_compare_needs_two(dispatcher, tracker_for, domain):
    await run(ActionCompareProducts(), dispatcher, tracker_for("哪个好", "compare_products"), domain)
    assert responses(dispatcher) == ["utter_compare_need_two"]


async def test_compare_with_a_fund_is_gated(dispatcher, tracker_for, domain):
    tracker = tracker_for(
        "定期和货币基金比", "compare_products", [ent("product", "整存整取"), ent("product", "澜山货币")]
    )
    events = await run(ActionCompareProducts(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_risk_disclosure"]
    assert slots_set(events)["pending_aspect"] == "compare"


def test_calculators_match_hand_worked_examples():
    # 100,000 yuan, 12 months at 4.35 %: the textbook example
    plan = calc.loan_repayment(100000, Decimal("4.35"), 12)
    assert (plan.annuity_monthly, plan.annuity_interest) == (Decimal("8530.99"), Decimal("2371.88"))
    assert (plan.linear_first, plan.linear_step, plan.linear_interest) == (
        Decimal("8695.83"),
        Decimal("30.21"),
        Decimal("2356.25"),
    )
    # 1,000,000 yuan over 30 years at 3.05 %: r = 0.0025416..., (1+r)^360 = 2.4942...
    plan = calc.loan_repayment(1000000, Decimal("3.05"), 360)
    assert plan.annuity_monthly == Decimal("4243.05") and plan.linear_first == Decimal("5319.44")
    assert plan.linear_interest == Decimal("458770.83")  # 1e6 × 0.0025417 × 361 / 2
    assert calc.deposit_interest(50000, Decimal("1.25"), 36) == Decimal("1875.00")
    assert calc.loan_repayment(12000, 0, 12).annuity_monthly == Decimal("1000.00")
    assert not calc.valid_amount(-1) and not calc.valid_term(0.5) and calc.valid_term(360)


async def test_a_stale_ok_acknowledges_nothing(dispatcher, tracker_for, domain, kb):
    """After the disclosure the customer asked about a lost card: a later "好的" is not an acknowledgement."""
    before = kb.scalar(select(m.DisclosureAcknowledgement.id).order_by(m.DisclosureAcknowledgement.id.desc()))
    moved_on = [
        *DISCLOSURE_SHOWN,
        {"event": "user", "text": "我的卡丢了"},
        {"event": "bot", "text": "请立即挂失"},
    ]
    tracker = tracker_for(
        "好的",
        "affirm",
        slots={"disclosure_pending": True, "disclosure_product": "FD-QDII", "pending_aspect": "info"},
        events=moved_on,
    )
    events = await run(ActionAcknowledgeDisclosure(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_disclosure_expired"]
    assert slots_set(events)["disclosure_pending"] is False
    assert "acknowledged_products" not in slots_set(events)
    assert kb.scalar(select(m.DisclosureAcknowledgement.id).order_by(m.DisclosureAcknowledgement.id.desc())) == before


async def test_a_reply_not_understood_in_between_keeps_the_disclosure_open(dispatcher, tracker_for, domain, kb):
    """ "嗀哫嚭" after the disclosure got "please say it again"; the "好的" after that answers the disclosure."""
    not_understood = {"event": "user", "text": "嗀哫嚭", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    pending = {"disclosure_pending": True, "disclosure_product": "FD-QDII", "pending_aspect": "info"}
    for between in ([not_understood], [not_understood, {"event": "bot", "text": "抱歉"}, not_understood]):
        tracker = tracker_for(
            "好的", "affirm", slots=pending, events=[*DISCLOSURE_SHOWN, *between], parse={DECIDED_BY_RULE: "affirm"}
        )
        events = await run(ActionAcknowledgeDisclosure(), dispatcher, tracker, domain)
        assert responses(dispatcher)[0] == "utter_disclosure_acknowledged"
        assert slots_set(events)["acknowledged_products"] == ["FD-QDII"]
        dispatcher.messages.clear()
    # an understood message in between still moves the talk on
    understood = {"event": "user", "text": "我的卡丢了", "parse_data": {"intent": {"name": "report_lost_card"}}}
    tracker = tracker_for("好的", "affirm", slots=pending, events=[*DISCLOSURE_SHOWN, not_understood, understood])
    await run(ActionAcknowledgeDisclosure(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_disclosure_expired"]


async def test_only_a_yes_said_plainly_or_the_button_acknowledges(dispatcher, tracker_for, domain, kb):
    """ "必须确认吗" read as affirm by the classifier is asked again: nothing recorded, the disclosure still
    pending; the button's payload (only a channel-made command reaches the bot) is recorded."""

    def latest_id():
        return kb.scalar(select(m.DisclosureAcknowledgement.id).order_by(m.DisclosureAcknowledgement.id.desc()))

    before = latest_id()
    pending = {"disclosure_pending": True, "disclosure_product": "WM-MIX", "pending_aspect": "info"}
    guessed = tracker_for("必须确认吗", "affirm", slots=pending, events=DISCLOSURE_SHOWN, confidence=0.999)
    events = await run(ActionAcknowledgeDisclosure(), dispatcher, guessed, domain)
    assert responses(dispatcher) == ["utter_disclosure_reprompt"]
    assert events == [] and latest_id() == before
    dispatcher.messages.clear()
    asked_again = [
        *DISCLOSURE_SHOWN,
        guessed.events[-1],
        {"event": "bot", "metadata": {"utter_action": "utter_disclosure_reprompt"}},
    ]
    button = tracker_for("/affirm", "affirm", slots=pending, events=asked_again, confidence=1.0)
    events = await run(ActionAcknowledgeDisclosure(), dispatcher, button, domain)
    assert responses(dispatcher)[0] == "utter_disclosure_acknowledged"
    assert slots_set(events)["acknowledged_products"] == ["WM-MIX"] and latest_id() != before


async def test_details_above_the_assessed_tolerance_are_flagged(dispatcher, tracker_for, domain):
    """A C1 customer who asks for an R4 product is told it is above their level before its details."""
    tracker = tracker_for(
        "锐进权益理财怎么样",
        "ask_product_info",
        [ent("product", "云澜锐进权益精选理财")],
        slots={"acknowledged_products": ["WM-EQUITY"], "risk_tolerance": "C1"},
    )
    await run(ActionAnswerProductInfo(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_above_tolerance", "utter_product_info"]
    assert dispatcher.messages[0]["tolerance"] == "C1（保守型）" and dispatcher.messages[0]["max_risk"] == "R1"


@pytest.mark.parametrize("text", ["有没有稳赚不赔的理财", "我要保本保收益的产品", "零风险的基金有吗"])
async def test_a_request_for_guaranteed_returns_is_corrected(text, dispatcher, tracker_for, domain):
    await run(
        ActionAnswerProductInfo(),
        dispatcher,
        tracker_for(text, "ask_product_info", [ent("product_type", "fund")]),
        domain,
    )
    assert responses(dispatcher)[0] == "utter_no_guaranteed_returns"
