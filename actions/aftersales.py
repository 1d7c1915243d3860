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
    payload_value,
    response_buttons,
    write_with_retry,
)
from banktext import MASKED_PHONE, mask_phone, redact, to_simplified
from knowledge import handoffs as h
from knowledge import queries as q
from knowledge import tickets

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
    "排队等候": ("排队", "等了", "等太久", "等半天", "叫号", "窗口"),
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


class ValidateComplaintForm(GuardedFormValidation):
    """Category, a description long enough to act on, a contact number (stored masked) or none.

    What the customer already said counts: "我要投诉，柜员态度太差，让我等了一个小时，
    电话13812345678" gives the category, the description and the number at once.
    """

    def name(self) -> str:
        return "validate_complaint_form"

    async def extract_complaint_category(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        if tracker.get_slot("complaint_category"):
            return {}
        choice = category_named(customer_text(tracker), domain)
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
        if len(text) < MIN_DESCRIPTION:
            dispatcher.utter_message(response="utter_invalid_complaint_description")
            return {"complaint_description": None, **form_missed(tracker, dispatcher)}
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
        return [SlotSet(slot, None) for slot in ("complaint_category", "complaint_description", "complaint_contact")]


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
_SMALL_TALK = {"greet", "thank", "affirm", "deny", "inform", "goodbye", "nlu_fallback", "rate_service"}


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
    """Store the customer's 1-5 rating (once per conversation) and thank them."""

    def name(self) -> str:
        return "action_rate_service"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        score = next(
            (e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "score"), None
        )
        try:
            score = int(str(score))
        except ValueError:
            score = 0
        if not 1 <= score <= 5:
            dispatcher.utter_message(response="utter_ask_satisfaction")
            return []
        if tracker.get_slot("satisfaction_given"):
            dispatcher.utter_message(response="utter_already_rated")
            return []
        conversation = conversation_id(tracker)
        await write_with_retry(lambda s: h.rate(s, conversation, q.pseudonym(conversation), score))
        dispatcher.utter_message(response="utter_rating_thanks" if score >= 3 else "utter_rating_sorry")
        return [SlotSet("satisfaction_given", True)]


class ActionAskSatisfaction(Action):
    """Ask for a 1-5 rating at the end of a conversation (goodbye, thanks, after a person served
    the customer): once per conversation, and only when the customer asked something."""

    def name(self) -> str:
        return "action_ask_satisfaction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
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


def stop_form(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
    """Leave the active form, forgetting its half-filled answers."""
    if (tracker.latest_message.get("intent") or {}).get("name") not in QUIET_EXITS:
        dispatcher.utter_message(response="utter_form_stopped")
    form = (tracker.active_loop or {}).get("name")
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
