"""After-sales: complaints, hand-off to a human agent, leaving a form."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    KB_ERRORS,
    GuardedFormValidation,
    Wording,
    bank_facts,
    button_typed,
    conversation_id,
    customer_text,
    form_hit,
    form_missed,
    kb_guard,
    kb_session,
    message_before,
    no_free_text_answer,
    payload_value,
    response_buttons,
    write_with_retry,
)
from banktext import MASKED_PHONE, mask_phone, redact, to_simplified
from banktext.intents import CONVERSATION_CONTROL, FORM_ANSWER, NOT_UNDERSTOOD
from knowledge import handoffs as h
from knowledge import queries as q
from knowledge import tickets
from knowledge.text import normalise

logger = logging.getLogger(__name__)

#: Replies that mean "no call-back, thanks" to the contact question (parsing vocabulary).
NO_CONTACT = ("不用", "不需要", "不要", "算了", "不方便", "没必要", "no")
MIN_DESCRIPTION = 4
#: A description long enough to stand on its own when it comes with the complaint itself.
OPENING_DESCRIPTION = 10
#: What each complaint category is about, in customers' words (parsing vocabulary).
CATEGORY_WORDS = {
    "服务态度": ("态度", "服务差", "服务太差", "不耐烦", "爱答不理", "骂人", "凶", "不理人", "甩脸"),
    "收费争议": ("收费", "扣费", "扣了我", "乱扣", "手续费", "年费", "管理费", "多收"),
    "产品销售": ("推销", "误导", "忽悠", "骗我买", "被劝", "销售", "搭售", "保险当存款", "当成存款"),
    "App/网银问题": ("app", "手机银行", "网银", "闪退", "登不上", "登录不了", "转账失败", "系统"),
    "排队等候": ("排队", "排了", "排长队", "等了", "等太久", "等半天", "叫号", "窗口"),
}


def category_named(text: str, domain: DomainDict) -> str | None:
    """The complaint category a message names: a choice's label typed, or its words."""
    typed = button_typed(text, response_buttons(domain, "utter_ask_complaint_category"))
    if typed:
        return payload_value(typed, "choice")
    key = to_simplified(text).lower()
    return next((choice for choice, words in CATEGORY_WORDS.items() if any(word in key for word in words)), None)


def contact_given(text: str) -> str | None:
    """The call-back number in a message, masked (the gateway masks it before the bot sees it)."""
    masked = mask_phone(text)
    if masked:
        return masked
    match = MASKED_PHONE.search(text or "")
    return match.group(0) if match else None


def _complaint_words_removed(text: str) -> str:
    return re.sub(r"^(我要|我想|我)?(投诉|举报|反映|反馈|吐槽)(一下)?(你们|贵行)?[，,。：:\s]*", "", text.strip())


def _story_with_the_category(tracker: Tracker, domain: DomainDict) -> str:
    """What the message before the description said beyond a category ("你们柜员态度太差了" gave
    服务态度 and was lost when "北京朝阳支行" came as the description): kept at the description's head."""
    before = redact(str((message_before(tracker) or {}).get("text") or "")).strip()
    story = _complaint_words_removed(before)
    labels = {str(b.get("title")) for b in response_buttons(domain, "utter_ask_complaint_category")}
    if category_named(before, domain) is None or story in labels or len(story) < MIN_DESCRIPTION:
        return ""
    return story


class ValidateComplaintForm(GuardedFormValidation):
    """Category, a description long enough to act on, a contact number (stored masked) or none.

    What the customer already said counts: "我要投诉，柜员态度太差，让我等了一个小时，
    电话13812345678" gives the category, the description and the number at once.
    """

    opening_intent = "complain"

    def name(self) -> str:
        return "validate_complaint_form"

    async def extract_complaint_category(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        if tracker.get_slot("complaint_category"):
            return {}
        text = customer_text(tracker)
        choice = category_named(text, domain)
        # the story told instead of a category (read as a complaint, which the category's own mapping
        # leaves out): "其他", the story kept as the description, not the same question again
        told = len(_complaint_words_removed(text)) >= OPENING_DESCRIPTION
        if choice is None and told and tracker.get_slot("requested_slot") == "complaint_category":
            choice = "其他"
        return {"complaint_category": choice} if choice else {}

    async def extract_complaint_description(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        if tracker.get_slot("complaint_description") or tracker.get_slot("requested_slot") == "complaint_description":
            return {}
        rest = _complaint_words_removed(customer_text(tracker))
        return {"complaint_description": rest} if len(rest) >= OPENING_DESCRIPTION else {}

    async def extract_complaint_contact(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        if tracker.get_slot("requested_slot") == "complaint_contact":
            return {}
        contact = contact_given(customer_text(tracker))
        return {"complaint_contact": contact} if contact else {}

    def validate_complaint_category(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = redact(str(value or "")).strip()
        choice = category_named(text, domain)
        if choice:
            return {"complaint_category": choice}
        if not text:
            return {"complaint_category": None}
        # an answer that is not a category is what happened: keep it as the description
        values = {"complaint_category": "其他"}
        if len(text) >= OPENING_DESCRIPTION and not tracker.get_slot("complaint_description"):
            values["complaint_description"] = text[:2000]
        return values

    def validate_complaint_description(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = redact(str(value or "")).strip()
        if no_free_text_answer(tracker, dispatcher, "utter_invalid_complaint_description"):
            return {"complaint_description": None, **form_missed(tracker, dispatcher)}
        if len(text) < MIN_DESCRIPTION:
            dispatcher.utter_message(response="utter_invalid_complaint_description")
            return {"complaint_description": None, **form_missed(tracker, dispatcher)}
        story = _story_with_the_category(tracker, domain)
        if story and story not in text:
            text = f"{story}；{text}"
        return {"complaint_description": text[:2000], **form_hit()}

    def validate_complaint_contact(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = str(value or "").strip()
        if text == "-":  # "no call-back", already decided (a "不用" that came through action_deny_in_form)
            return {"complaint_contact": "-", **form_hit()}
        contact = contact_given(text)
        if contact:
            return {"complaint_contact": contact, **form_hit()}
        if any(word in text.lower() for word in NO_CONTACT):
            return {"complaint_contact": "-", **form_hit()}
        if len(text) >= OPENING_DESCRIPTION and not re.search(r"\d{5,}", text):
            # more of what happened, not a number: added to the description, the number asked again
            description = f"{tracker.get_slot('complaint_description') or ''}；{redact(text)}".strip("；")
            dispatcher.utter_message(response="utter_complaint_added")
            return {"complaint_contact": None, "complaint_description": description[:2000]}
        dispatcher.utter_message(response="utter_invalid_contact")
        return {"complaint_contact": None, **form_missed(tracker, dispatcher)}


class ActionLodgeComplaint(Action):
    """Store the complaint (redacted, contact masked) and give its reference."""

    def name(self) -> str:
        return "action_lodge_complaint"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        contact = tracker.get_slot("complaint_contact")
        contact = None if contact in (None, "-") else contact
        try:
            code = await write_with_retry(
                lambda s: q.lodge_complaint(
                    s,
                    conversation_id(tracker),
                    tracker.get_slot("complaint_category") or "",
                    redact(tracker.get_slot("complaint_description") or ""),
                    contact,
                )
            )
        except KB_ERRORS:
            # nothing stored: say so; the answers are kept, so "投诉" again submits them again
            dispatcher.utter_message(response="utter_complaint_not_saved", **bank_facts())
            return []
        dispatcher.utter_message(
            response="utter_complaint_recorded",
            code=code,
            contact_note=w("fmt_contact_note", contact=contact) if contact else "",
        )
        forget = [SlotSet(slot, None) for slot in ("complaint_category", "complaint_description", "complaint_contact")]
        # a complaint ends what the customer came for: the rating, as at any other end
        return forget + ask_satisfaction(dispatcher, tracker)


#: Words by which customers say they are elderly (parsing vocabulary): they go to the front of the queue.
ELDERLY_WORDS = (
    "老年人",
    "老人家",
    "年纪大",
    "年紀大",
    "岁数大",
    "歲數大",
    "上了年纪",
    "退休老人",
    "老花",
    "看不清",
    "眼神不好",
    "七十多",
    "八十多",
    "七十岁",
    "八十岁",
)
#: "取消转人工", "不排了": the customer leaves the queue (parsing vocabulary).
_CANCEL_QUEUE = re.compile(
    r"(取消|不要|不用|不等|不排|算了).{0,4}(人工|排队|等|转接|客服)|(人工|排队).{0,3}(取消|不要了|不用了|算了)"
)
#: The bot's last answer before the customer asked for a person says why (metadata of BotUttered).
REASON_AFTER = {
    "utter_offer_human": "not_understood",
    "utter_form_offer_human": "not_understood",
    "utter_offer_human_repeated": "not_understood",
    "utter_complaint_recorded": "complaint",
    "utter_fraud_urgent": "fraud",
    "utter_lost_card_steps": "fraud",
    "utter_offer_specialist": "specialist",
}
#: Intents that are talk, not a subject: left out of the agent's summary.
_SMALL_TALK = CONVERSATION_CONTROL | {FORM_ANSWER, NOT_UNDERSTOOD, "rate_service"}


def _user_events(tracker: Tracker) -> list[dict[str, Any]]:
    return [e for e in tracker.events if e.get("event") == "user"]


def _intent_of(event: dict[str, Any]) -> str:
    return str(((event.get("parse_data") or {}).get("intent") or {}).get("name") or "")


def _slot_values(tracker: Tracker, slot: str) -> list[Any]:
    """Every value ``slot`` took in the conversation, oldest first, without repeats."""
    values: list[Any] = []
    for event in tracker.events:
        if event.get("event") == "slot" and event.get("name") == slot and event.get("value") not in (None, "", []):
            value = event["value"]
            for v in value if isinstance(value, list) else [value]:
                if v not in values:
                    values.append(v)
    return values


def handoff_reason(tracker: Tracker) -> str:
    """Why the customer is going to a person, from what came just before the request."""
    users = _user_events(tracker)
    if sum(1 for e in users if _intent_of(e) == "request_human") >= 2:
        return "asked_repeatedly"
    latest = len(tracker.events) - 1
    while latest >= 0 and tracker.events[latest].get("event") != "user":
        latest -= 1
    for event in reversed(tracker.events[:latest]):
        if event.get("event") == "user":
            break
        template = (event.get("metadata") or {}).get("utter_action") if event.get("event") == "bot" else None
        if template in REASON_AFTER:
            return REASON_AFTER[template]
    recent = [_intent_of(e) for e in users[-4:]]
    if "report_fraud" in recent:
        return "fraud"
    if "complain" in recent:
        return "complaint"
    return "customer_asked"


def is_elderly(tracker: Tracker) -> bool:
    if tracker.get_slot("segment") == "retiree":
        return True
    texts = (to_simplified(str(e.get("text") or "")) for e in _user_events(tracker))
    return any(word in text for text in texts for word in ELDERLY_WORDS)


def handoff_summary(tracker: Tracker, reason: str, product_names: dict[str, str]) -> dict[str, Any]:
    """What the agent reads before answering: subjects, products, segment, risk, disclosures."""
    intents = list(dict.fromkeys(i for i in map(_intent_of, _user_events(tracker)) if i and i not in _SMALL_TALK))
    codes = _slot_values(tracker, "product_code")
    return {
        "reason": reason,
        "intents": intents,
        "products": [product_names.get(code, code) for code in codes],
        "product_types": [str(v) for v in _slot_values(tracker, "product_type")],
        "segment": tracker.get_slot("segment"),
        "risk_level": tracker.get_slot("risk_tolerance"),
        "disclosures": [product_names.get(code, code) for code in tracker.get_slot("acknowledged_products") or []],
        "elderly": is_elderly(tracker),
    }


def _handoff_mode(tracker: Tracker) -> str | None:
    """ "cancel" or "message" from a button; "cancel" from "取消转人工" typed."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "handoff_mode" and entity.get("value") in ("cancel", "message"):
            return str(entity["value"])
    return "cancel" if _CANCEL_QUEUE.search(to_simplified(customer_text(tracker))) else None


class ActionTicketStatus(Action):
    """A complaint ticket's progress: by its code, with details only for the conversation that
    filed it; without a code, this conversation's own tickets."""

    def name(self) -> str:
        return "action_ticket_status"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        facts = bank_facts()
        mine = q.pseudonym(conversation_id(tracker))
        codes = tickets.codes_in(tracker.latest_message.get("text") or "")
        with kb_session() as s:
            if codes:
                found = [(code, tickets.ticket(s, code)) for code in codes[:3]]
            else:
                found = [(t.code, t) for t in tickets.tickets_of(s, mine)]
            if not found:
                dispatcher.utter_message(response="utter_no_tickets", **facts)
                return []
            for code, ticket in found:
                if ticket is None:
                    dispatcher.utter_message(response="utter_ticket_not_found", code=code, **facts)
                elif ticket.conversation_ref != mine:
                    dispatcher.utter_message(response="utter_ticket_not_yours", code=code, **facts)
                else:
                    dispatcher.utter_message(
                        response="utter_ticket_status",
                        code=code,
                        category=ticket.category or "其他",
                        created=f"{ticket.created_at:%m月%d日}",
                        status=tickets.STATUSES.get(ticket.status or "open", "待处理"),
                        staff_reply=f"处理说明：{ticket.staff_reply}" if ticket.staff_reply else "",
                    )
        return []


class ActionHandoffToHuman(Action):
    """Queue the conversation for a person at the staff desk and tell the customer what happens.

    The handoff is stored (``knowledge.handoffs``) with its department, reason, priority and a
    summary for the agent; the customer hears their place in the queue and the expected wait,
    can cancel, and outside opening hours (or when the wait is long) may leave a message.
    The bot keeps answering while the customer waits; the desk pauses it when a person takes over.
    """

    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        facts = bank_facts()
        mode = _handoff_mode(tracker)
        try:
            answer = await write_with_retry(lambda s: self._queue(s, tracker, mode))
        except KB_ERRORS as exc:
            logger.error("the desk's queue is unavailable: %s", type(exc).__name__)
            answer = None
        if answer is None:  # no desk configured or the database is down: the hotline
            dispatcher.utter_message(response="utter_handoff", **facts)
            return []
        response, values = answer
        dispatcher.utter_message(response=response, **{**facts, **values})
        return []

    @staticmethod
    def _queue(session: Any, tracker: Tracker, mode: str | None) -> tuple[str, dict[str, Any]] | None:
        settings = h.desk(session)
        if settings is None:
            return None
        conversation = conversation_id(tracker)
        if mode == "cancel":
            cancelled = h.cancel(session, conversation)
            return ("utter_handoff_cancelled", {}) if cancelled else ("utter_handoff_nothing_to_cancel", {})
        reason = handoff_reason(tracker)
        intent = "complain" if reason == "complaint" else "report_fraud" if reason == "fraud" else None
        product_types = _slot_values(tracker, "product_type")
        product_codes = _slot_values(tracker, "product_code")
        views = {
            code: q.get_product(session, code)
            for code in product_codes + list(tracker.get_slot("acknowledged_products") or [])
        }
        names = {code: view.name for code, view in views.items() if view}
        latest = views.get(product_codes[-1]) if product_codes else None
        product_type = latest.category if latest else (product_types[-1] if product_types else None)
        department = settings.route(intent, product_type, tracker.get_slot("segment"))
        summary = handoff_summary(tracker, reason, names)
        priority = (
            h.PRIORITY_ELDERLY
            if summary["elderly"]
            else h.PRIORITY_REPEATED if reason == "asked_repeatedly" else h.PRIORITY_NORMAL
        )
        current = h.open_handoff_of(session, conversation)
        if not settings.is_open() and current is None and mode != "message":
            return "utter_handoff_closed", {"desk_hours": settings.hours}
        if mode == "message" and current is not None and current.state == "waiting":
            current.state = "message"  # waiting too long: the customer leaves a message instead
            return "utter_handoff_message_left", {"code": current.code}
        handoff, _ = h.open_handoff(
            session,
            conversation,
            channel=tracker.get_latest_input_channel() or "web",
            department=department,
            reason=reason,
            priority=priority,
            summary=summary,
            state="message" if mode == "message" else "waiting",
        )
        if handoff.state == "message":
            return "utter_handoff_message_left", {"code": handoff.code}
        ahead = h.position(session, handoff) - 1
        minutes = h.estimated_wait_minutes(session, handoff, settings)
        values = {
            "code": handoff.code,
            "department": settings.department_name(handoff.department),
            "ahead": ahead,
            "minutes": minutes,
            "desk_hours": settings.hours,
        }
        long_wait = minutes > settings.max_wait_minutes
        return ("utter_handoff_queued_long" if long_wait else "utter_handoff_queued"), values


class ActionRateService(Action):
    """Store the customer's 1-5 rating (once per conversation), then invite a comment (comment_form)."""

    def name(self) -> str:
        return "action_rate_service"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        score = score_given(tracker.latest_message)
        if score is None:
            dispatcher.utter_message(response="utter_ask_satisfaction")
            return []
        if tracker.get_slot("satisfaction_given"):
            dispatcher.utter_message(response="utter_already_rated")
            return []
        conversation = conversation_id(tracker)
        await write_with_retry(lambda s: h.rate(s, conversation, q.pseudonym(conversation), score))
        # the thanks comes with the invitation to say more (action_ask_satisfaction_comment)
        return [SlotSet("satisfaction_given", True), FollowupAction("comment_form")]


def score_given(message: dict[str, Any]) -> int | None:
    """The 1-5 score a rating button carries, or None."""
    value = next((e.get("value") for e in message.get("entities") or [] if e.get("entity") == "score"), None)
    try:
        score = int(str(value))
    except ValueError:
        return None
    return score if 1 <= score <= 5 else None


def latest_score(tracker: Tracker) -> int | None:
    """The score of the conversation's latest rating button."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and _intent_of(event) == "rate_service":
            return score_given(event.get("parse_data") or {})
    return None


#: Scores from which the rating is a complaint about the service (the quality view's "不满意").
LOW_SCORE = 2
#: The comment slot's value when the customer has nothing to add.
NO_COMMENT = "-"
#: "Nothing to add", whole message (parsing vocabulary, after knowledge.text.normalise).
_NOTHING_TO_ADD = re.compile(
    r"(跳过|不用|不用了|不需要|不需要了|没有|没有了|没了|没啥|没什么|没什么了|没什么要说的|不说了|算了|不了|无|暂时没有|"
    r"没意见|没有意见|没建议|没有建议|就这样|就这些|pass|skip|no|nope)(了|啦|吧|哈|呢)?(谢谢|谢啦)?"
)
#: A question or a request in so many words (parsing vocabulary): what a remark seldom has.
_ASKING = re.compile(
    r"[?？]|[吗呢么嘛]$|多少|怎么|怎样|如何|哪|(?<![没不])什么|几|能不能|能否|可不可以|可以.{0,8}吗|是否|有没有|请问|想问|"
    r"咨询|查一下|查询|帮我|我要|我想要|办理|申请|预约"
)
#: A verdict on the service (parsing vocabulary): a remark, not a question.
_VERDICT = re.compile(
    r"太|不好|不行|很差|真差|好差|差劲|垃圾|慢|不满意|满意|不错|很好|挺好|还行|还可以|一般般|点赞|赞|专业|耐心|"
    r"态度|体验|答非所问|没用|没帮|看不懂|听不懂|希望|建议|应该|改进|繁琐|难用|不方便|方便|清楚"
)
#: "投诉", "举报", "告你们": a complaint said as one, not a verdict (parsing vocabulary).
_COMPLAINING = re.compile(r"投诉|举报|告你们|起诉|银保监|金融监管|监管局|12378|消协|315")
#: A question or request of the bank's business, when read with enough confidence.
QUESTIONS = frozenset(
    {
        "ask_product_info",
        "ask_interest_rate",
        "ask_fees",
        "ask_eligibility",
        "ask_required_documents",
        "ask_risk",
        "compare_products",
        "ask_recommendation",
        "apply_product",
        "ask_maturity",
        "ask_branch",
        "ask_contact",
        "book_appointment",
        "faq",
        "ask_ticket_status",
        "ask_capabilities",
        "bot_challenge",
        "request_human",
    }
)
EMERGENCIES = frozenset({"report_lost_card", "report_fraud"})
#: Confidence from which the NLU's reading of a message after the comment question is taken as
#: a new question; emergencies are taken from a lower one (a missed emergency costs most).
QUESTION_CONFIDENCE = 0.5
EMERGENCY_CONFIDENCE = 0.3
#: Short enough to be "谢谢", "再见", "你好", "好的" and nothing more.
SHORT = 6


def comment_reading(message: dict[str, Any]) -> str:
    """What a message after "anything to add?" is: ``"comment"``, ``"skip"`` (nothing to add) or
    ``"new"`` (a new question or request, answered as usual and not kept as a comment).

    Customers answer the question, or wave it away ("不用了", "没有", "好的"), or just go on:
    "信用卡年费多少", "转人工", "我要投诉", "你好". A verdict reads as a comment even when the
    NLU hears a subject in it ("手续费太高了" is not a fee question); a plain greeting, thanks or
    goodbye gets its ordinary answer. A button pressed is never a comment.
    """
    text = message.get("text") or ""
    intent = message.get("intent") or {}
    name, confidence = str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)
    if text.startswith("/"):
        return "skip" if name in ("deny", "affirm") else "new"
    key = normalise(text)
    if not key or _NOTHING_TO_ADD.fullmatch(key):
        return "skip"
    verdict = bool(_VERDICT.search(key))
    if name in EMERGENCIES and confidence >= EMERGENCY_CONFIDENCE:
        return "new"
    if confidence >= QUESTION_CONFIDENCE:
        if name in QUESTIONS and (not verdict or _ASKING.search(key)):
            return "new"
        if name == "complain" and _COMPLAINING.search(key):
            return "new"
        if name in ("greet", "thank", "goodbye") and len(key) <= SHORT and not verdict:
            return "new"
    if name in ("deny", "affirm") and len(key) <= SHORT and not verdict:
        return "skip"
    return "comment"


def typed_text(tracker: Tracker) -> str:
    """The latest message as the customer typed it (masked by the gateway): the NLU reads it in
    Simplified, half-width form, but a comment is kept in the customer's own script."""
    latest = next((e for e in reversed(tracker.events) if e.get("event") == "user"), None)
    text = str((latest or {}).get("text") or "") or customer_text(tracker)
    return "" if text.startswith("/") else text


class ValidateCommentForm(GuardedFormValidation):
    """The comment after a rating: kept (masked, cut to length), waved away, or, when the message
    is a new question, left unfilled so that the form steps aside and the question is answered."""

    def name(self) -> str:
        return "validate_comment_form"

    async def extract_satisfaction_comment(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        if tracker.get_slot("requested_slot") != "satisfaction_comment":
            return {}  # activation: the rating button is no comment
        reading = comment_reading(tracker.latest_message)
        if reading == "new":
            return {}
        return {"satisfaction_comment": NO_COMMENT if reading == "skip" else typed_text(tracker)}

    def validate_satisfaction_comment(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        comment = redact(str(value or "")).strip()[: h.COMMENT_CHARS]
        return {"satisfaction_comment": comment or NO_COMMENT}


class ActionAskSatisfactionComment(Action):
    """The comment question: after a low score, what went wrong; else whether there is more to say."""

    def name(self) -> str:
        return "action_ask_satisfaction_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        score = latest_score(tracker)
        low = score is not None and score <= LOW_SCORE
        dispatcher.utter_message(response="utter_ask_comment_low" if low else "utter_ask_comment")
        return []


class ActionSaveComment(Action):
    """Keep the comment on the conversation's rating and thank the customer (or just thank them)."""

    def name(self) -> str:
        return "action_save_comment"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        comment = tracker.get_slot("satisfaction_comment")
        if comment in (None, "", NO_COMMENT):
            score = latest_score(tracker)
            low = score is not None and score <= LOW_SCORE
            dispatcher.utter_message(response="utter_rating_sorry" if low else "utter_rating_thanks")
            return []
        ref = q.pseudonym(conversation_id(tracker))
        await write_with_retry(lambda s: h.add_comment(s, ref, str(comment)))
        dispatcher.utter_message(response="utter_comment_thanks")
        return []


class ActionAskSatisfaction(Action):
    """Ask for a 1-5 rating at the end of a conversation (goodbye, thanks, after a person served
    the customer; after a complaint, ActionLodgeComplaint asks itself): once per conversation,
    and only when the customer asked something."""

    def name(self) -> str:
        return "action_ask_satisfaction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return ask_satisfaction(dispatcher, tracker)


def ask_satisfaction(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The rating buttons, unless asked or given already, or the customer asked nothing."""
    if tracker.get_slot("satisfaction_given") or tracker.get_slot("satisfaction_asked"):
        return []
    if not any(_intent_of(e) not in _SMALL_TALK for e in _user_events(tracker)):
        return []  # "你好" then "再见": nothing to rate
    dispatcher.utter_message(response="utter_ask_satisfaction")
    return [SlotSet("satisfaction_asked", True)]


#: Words that say "let's stop" (parsing vocabulary); a "no" without them answers the question.
LEAVING_WORDS = (
    "算了",
    "不用",
    "不要",
    "不想",
    "取消",
    "不约",
    "不办",
    "不需要",
    "不弄",
    "不买",
    "不投诉",
    "先这样",
    "下次",
    "改天再",
    "拉倒",
)


def wants_to_leave(text: str) -> bool:
    return any(word in to_simplified(text) for word in LEAVING_WORDS)


#: Intents after which leaving a form needs no "已为您取消" of its own: what comes next says enough.
QUIET_EXITS = frozenset({"request_human", "goodbye", "ask_recommendation", "book_appointment", "complain"})
#: Forms left without a word whatever comes next: the optional comment after a rating.
QUIET_FORMS = frozenset({"comment_form"})


def stop_form(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any], quiet: bool = False
) -> list[EventType]:
    """Leave the active form, forgetting its half-filled answers; ``quiet`` when what the caller
    says next is the answer."""
    form = (tracker.active_loop or {}).get("name")
    said_next = quiet or (tracker.latest_message.get("intent") or {}).get("name") in QUIET_EXITS
    if form not in QUIET_FORMS and not said_next:
        dispatcher.utter_message(response="utter_form_stopped")
    slots = (domain.get("forms", {}).get(form, {}) or {}).get("required_slots", []) if form else []
    return [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        SlotSet("form_misses", 0),
        *(SlotSet(slot, None) for slot in slots),
    ]


class ActionStopForm(Action):
    """Leave whatever form is active, forgetting its half-filled answers."""

    def name(self) -> str:
        return "action_stop_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return stop_form(dispatcher, tracker, domain)


class ActionDenyInForm(Action):
    """A "no" inside a form: the answer to the question asked when it is one ("不用" to the
    call-back question, "不能接受任何亏损" in the risk questionnaire), else leaving the form
    ("算了", "不约了", "不想理财了")."""

    def name(self) -> str:
        return "action_deny_in_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        from actions.recommend import answer_to_risk_question

        form = (tracker.active_loop or {}).get("name")
        slot = tracker.get_slot("requested_slot")
        text = customer_text(tracker)
        value: Any = None
        if slot == "complaint_contact" and any(word in text.lower() for word in NO_CONTACT):
            value = "-"
        elif slot and slot.startswith("risk_q"):
            value = answer_to_risk_question(slot, text, domain)
        if value is None and slot and text and not wants_to_leave(text):
            value = text  # "过两天吧", "不能接受任何亏损": an answer the form's validation reads
        if form and value is not None:
            # the loop is left and entered again at once: the form carries on with the answer set
            return [ActiveLoop(None), SlotSet(slot, value), FollowupAction(form)]
        return stop_form(dispatcher, tracker, domain)
