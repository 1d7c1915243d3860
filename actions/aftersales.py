"""After-sales: complaints, hand-off to a human agent, leaving a form."""

from __future__ import annotations

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
    payload_value,
    response_buttons,
    write_with_retry,
)
from banktext import mask_phone, redact, to_simplified
from knowledge import queries as q

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
#: A mobile or landline number as the gateway masked it (138****5678, 010-****5678).
_MASKED_PHONE = re.compile(r"(?<!\d)(1[3-9]\d\*{4}\d{4}|0\d{2,3}-?\*{3,5}\d{3,4})(?!\d)")


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
    match = _MASKED_PHONE.search(text or "")
    return match.group(1) if match else None


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


class ActionHandoffToHuman(Action):
    """Tell the customer a human agent is being connected, with the hotline as a fallback."""

    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff", **bank_facts())
        return []


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
