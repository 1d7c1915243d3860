"""Suitable recommendations: the profile form, the risk questionnaire, up to three products."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import calculators as calc
from actions.common import (
    GuardedFormValidation,
    Wording,
    as_number,
    button_typed,
    customer_text,
    form_hit,
    form_missed,
    kb_guard,
    kb_session,
    latest_entities,
    latest_number,
    number,
    payload_value,
    response_buttons,
)
from actions.resolve import LOAN_CATEGORIES, LOAN_FOR_SEGMENT, LOAN_WORDS
from actions.risk import correct_guarantee_request, disclosure_gate, excludes_any_loss
from banktext import to_simplified
from knowledge import models as m
from knowledge import queries as q
from knowledge.schema import CATEGORY_CODES, GOALS, SEGMENT_CODES
from knowledge.text import normalise

RISK_QUESTIONS = ("risk_q1", "risk_q2", "risk_q3", "risk_q4", "risk_q5")
#: The questions whose answer A rules out any loss (the most a loss may be; the aim of the money).
NO_LOSS_QUESTIONS = ("risk_q2", "risk_q3")
PROFILE = ["segment", "goal", "amount", "term"]
#: Kinds recommended by the customer's segment alone ("推荐一张适合学生的信用卡"): neither deposits (whose goal,
#: amount and term decide) nor investments, insurance or foreign exchange (which need the risk questionnaire);
#: the slot ``recommend_kind`` holds the kind asked for. "loans" is every kind of loan ("有什么贷款推荐"),
#: "cards" both kinds of card ("有没有适合学生的卡").
BY_SEGMENT_ONLY = (
    frozenset(CATEGORY_CODES)
    - q.DEPOSIT_CATEGORIES
    - {"wealth_management", "fund", "insurance", "precious_metal", "forex"}
) | {"loans", "cards"}
CARD_CATEGORIES = ("debit_card", "credit_card")
#: Points of answers A-D; the sum of five answers (5-20) gives the tolerance.
_POINTS = {"A": 1, "B": 2, "C": 3, "D": 4}
_BANDS = ((7, "C1"), (10, "C2"), (13, "C3"), (16, "C4"), (20, "C5"))
#: What customers type for a goal instead of pressing its button (parsing vocabulary).
GOAL_WORDS = {
    "saving": ("存", "储蓄", "稳", "攒"),
    "liquidity": ("随时", "灵活", "零钱", "周转不定"),
    "growth": ("增值", "收益", "投资", "赚"),
    "retirement": ("养老", "退休"),
    "education": ("教育", "孩子上学", "学费", "读书"),
    "consumption": ("消费", "装修", "买车", "旅游花"),
    "housing": ("买房", "房子", "首付"),
    "business": ("生意", "经营", "周转", "进货"),
    "protection": ("保障", "保险", "意外", "医疗"),
    "travel": ("出国", "旅行", "留学", "境外"),
}


#: Unmistakable goals in a message that was not an answer to the goal question (parsing vocabulary).
GOAL_WORDS_ANYWHERE = {
    "saving": ("存点钱", "攒点钱", "攒钱"),
    "retirement": ("养老",),
    "education": ("教育金", "学费", "孩子上学", "孩子读书"),
    "consumption": ("装修", "买车"),
    "housing": ("买房", "首付"),
    "business": ("周转", "进货", "生意上用", "做生意用"),
    "travel": ("出国", "留学"),
    "liquidity": ("随时要用", "随用随取", "随时取"),
}


def risk_answer(value: Any) -> str | None:
    """A, B, C or D from a button's letter or what the customer typed (a, 1, "B.", "选C")."""
    text = str(value or "").strip().upper()
    for char in text:
        if char in _POINTS:
            return char
        if char in "1234":
            return "ABCD"[int(char) - 1]
    return None


def answer_to_risk_question(slot: str, text: str, domain: DomainDict) -> str | None:
    """A, B, C or D for what the customer typed: an option's words, no-loss words, or its letter."""
    typed = button_typed(text, response_buttons(domain, f"utter_ask_{slot}"))
    if typed:
        return payload_value(typed, "risk_answer")
    if slot in NO_LOSS_QUESTIONS and excludes_any_loss(text):
        return "A"  # "一分钱都不能亏": the option that rules out any loss
    return risk_answer(text)


def tolerance_from(answers: list[str], no_loss: bool = False) -> str:
    """The C-level of the questionnaire's answers; C1 whatever they add up to when the
    customer accepts no loss at all."""
    if no_loss:
        return "C1"
    score = sum(_POINTS[a] for a in answers)
    return next(level for top, level in _BANDS if score <= top)


def customer_accepts_no_loss(tracker: Tracker) -> bool:
    """Whether the customer ruled out any loss: in the questionnaire (A to the questions on
    loss and on the aim) or in their own words during this recommendation."""
    return bool(tracker.get_slot("no_loss")) or "A" in (tracker.get_slot("risk_q2"), tracker.get_slot("risk_q3"))


def segment_from_text(s: Session, text: str) -> str | None:
    key = normalise(text)
    best, best_len = None, 0
    for seg in s.scalars(select(m.Segment)):
        for word in (seg.code, seg.name, *seg.synonyms):
            w = normalise(word)
            if w and w in key and len(w) > best_len:
                best, best_len = seg.code, len(w)
    return best


def goal_from_text(text: str) -> str | None:
    text = str(text or "").strip()
    if text in GOALS:
        return text
    for goal, words in GOAL_WORDS.items():
        if any(word in text for word in words):
            return goal
    return None


class ValidateRecommendationForm(GuardedFormValidation):
    """Profile first; the five risk questions only when no tolerance is known yet."""

    opening_intent = "ask_recommendation"

    def name(self) -> str:
        return "validate_recommendation_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("recommend_kind"):
            return ["segment"]
        return PROFILE + ([] if tracker.get_slot("risk_tolerance") else list(RISK_QUESTIONS))

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        """Every message of the recommendation is read for what the customer says about loss and returns.
        The message that starts it says whether a kind recommended by segment alone was asked for."""
        events: list = []
        if tracker.get_slot("requested_slot") is None:  # the form starts with this message
            kinds = [str(k) for k in latest_entities(tracker, "product_type")]
            said = normalise(customer_text(tracker))
            if not kinds and any(word in said for word in LOAN_WORDS):
                kinds = ["loans"]
            elif not kinds and "卡" in said:
                kinds = ["cards"]  # "有没有适合学生的卡": a debit or a credit card
            kind = kinds[0] if kinds and all(k in BY_SEGMENT_ONLY for k in kinds) else None
            events.append(SlotSet("recommend_kind", kind))
            tracker.slots["recommend_kind"] = kind
        correct_guarantee_request(tracker, dispatcher)
        if excludes_any_loss(tracker.latest_message.get("text") or "") and not tracker.get_slot("no_loss"):
            events.append(SlotSet("no_loss", True))
            tracker.slots["no_loss"] = True
        return events + await super().run(dispatcher, tracker, domain)

    async def extract_goal(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """ "我退休了，有二十万想养老用": the goal said before it was asked."""
        if tracker.get_slot("goal") or tracker.get_slot("requested_slot") == "goal":
            return {}
        text = to_simplified(customer_text(tracker))
        goal = next((g for g, words in GOAL_WORDS_ANYWHERE.items() if any(w in text for w in words)), None)
        return {"goal": goal} if goal else {}

    # A typed answer to a question the form asked ("几乎没有，只存过银行存款") may read as a question
    # to the NLU; when it is one of the options offered, it answers the form all the same.
    def _typed_option(self, slot: str, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            return {}
        text = customer_text(tracker)
        if slot.startswith("risk_q"):
            # an option's words, or a bare letter/number; a letter inside a sentence is no answer
            answer = answer_to_risk_question(slot, text, domain) if 0 < len(normalise(text)) <= 3 else None
            typed = button_typed(text, response_buttons(domain, f"utter_ask_{slot}")) if text else None
            if typed:
                answer = payload_value(typed, "risk_answer")
            elif slot in NO_LOSS_QUESTIONS and excludes_any_loss(text):
                answer = "A"
            return {slot: answer} if answer else {}
        typed = button_typed(text, response_buttons(domain, f"utter_ask_{slot}")) if text else None
        return {slot: payload_value(typed, slot)} if typed else {}

    async def extract_segment(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._typed_option("segment", tracker, domain)

    async def extract_risk_q1(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._typed_option("risk_q1", tracker, domain)

    async def extract_risk_q2(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._typed_option("risk_q2", tracker, domain)

    async def extract_risk_q3(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._typed_option("risk_q3", tracker, domain)

    async def extract_risk_q4(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._typed_option("risk_q4", tracker, domain)

    async def extract_risk_q5(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._typed_option("risk_q5", tracker, domain)

    def validate_segment(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if value in SEGMENT_CODES:
            return {"segment": value}
        typed = button_typed(str(value or ""), response_buttons(domain, "utter_ask_segment"))
        if typed and payload_value(typed, "segment") in SEGMENT_CODES:
            return {"segment": payload_value(typed, "segment")}
        with kb_session() as s:
            code = segment_from_text(s, str(value or ""))
        if code:
            return {"segment": code}
        dispatcher.utter_message(response="utter_invalid_segment")
        return {"segment": None, **form_missed(tracker, dispatcher)}

    def validate_goal(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        typed = button_typed(str(value or ""), response_buttons(domain, "utter_ask_goal"))
        goal = payload_value(typed, "goal") if typed else goal_from_text(value)
        if goal is None and any(latest_entities(tracker, e) for e in ("amount", "term", "segment")):
            return {"goal": None}  # "20万" asked what the money is for: the amount, kept; the goal asked again
        if goal is None:
            dispatcher.utter_message(response="utter_invalid_goal")
            return {"goal": None, **form_missed(tracker, dispatcher)}
        return {"goal": goal, **form_hit()}

    def _number(self, slot: str, value: Any, tracker: Tracker, dispatcher, valid) -> dict[str, Any]:
        """The number the NLU read for ``slot`` (or the typed digits), if ``valid``; else ask again."""
        number_value = latest_number(tracker, slot)
        number_value = number_value if number_value is not None else as_number(value)
        if not valid(number_value):
            dispatcher.utter_message(response=f"utter_invalid_{slot}")
            return {slot: None, **form_missed(tracker, dispatcher)}
        return {slot: number_value, **form_hit()}

    def validate_amount(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._number("amount", value, tracker, dispatcher, calc.valid_amount)

    def validate_term(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._number("term", value, tracker, dispatcher, calc.valid_term)

    def _risk(self, slot: str, value: Any, dispatcher, domain: DomainDict) -> dict[str, Any]:
        answer = answer_to_risk_question(slot, str(value or ""), domain)
        if answer is None:
            dispatcher.utter_message(response="utter_invalid_risk_answer")
        return {slot: answer}

    def validate_risk_q1(self, value, dispatcher, tracker, domain):
        return self._risk("risk_q1", value, dispatcher, domain)

    def validate_risk_q2(self, value, dispatcher, tracker, domain):
        return self._risk("risk_q2", value, dispatcher, domain)

    def validate_risk_q3(self, value, dispatcher, tracker, domain):
        return self._risk("risk_q3", value, dispatcher, domain)

    def validate_risk_q4(self, value, dispatcher, tracker, domain):
        return self._risk("risk_q4", value, dispatcher, domain)

    def validate_risk_q5(self, value, dispatcher, tracker, domain):
        return self._risk("risk_q5", value, dispatcher, domain)


def _recommendations(s: Session, tracker: Tracker, tolerance: str) -> list[q.Recommendation]:
    return q.suitable_products(
        s,
        tracker.get_slot("segment"),
        tolerance,
        goal=tracker.get_slot("goal"),
        amount=as_number(tracker.get_slot("amount")),
        term_months=int(as_number(tracker.get_slot("term")) or 0) or None,
        no_loss=customer_accepts_no_loss(tracker),
    )


def segment_name(s: Session, code: str | None) -> str:
    """A customer segment as customers read it ("企业主/个体户"); empty when unknown."""
    if not code:
        return ""
    return s.scalar(select(m.Segment.name).where(m.Segment.code == code)) or ""


def show_recommendations(
    s: Session, tracker: Tracker, d: CollectingDispatcher, w: Wording, codes: list[str] | None = None
) -> list[EventType]:
    """The recommendations themselves, each with its reason; ends the recommendation."""
    tolerance = tracker.get_slot("risk_tolerance")
    recs = _recommendations(s, tracker, tolerance)
    if codes is not None:
        recs = [r for r in recs if r.product.code in codes]
    segment = segment_name(s, tracker.get_slot("segment"))
    d.utter_message(
        response="utter_recommendation_intro",
        segment_name=segment,
        amount=number(as_number(tracker.get_slot("amount"))),
        term_label=w.term(as_number(tracker.get_slot("term"))),
    )
    for rank, rec in enumerate(recs, 1):
        p = rec.product
        if p.risk_level:
            worded = w("fmt_tolerance_value", tolerance=tolerance, label=w(f"fmt_tolerance_{tolerance}"))
            fit = w("fmt_fit_risk", risk_level=p.risk_level, tolerance=worded)
            if p.min_amount:
                fit += w("fmt_fit_amount", low=number(p.min_amount))
        else:
            fit = w("fmt_no_rating")
        d.utter_message(
            response="utter_recommendation_item",
            rank=rank,
            name=p.name,
            category_name=p.category_name,
            risk_note=w("fmt_risk_note", risk_level=p.risk_level) if p.risk_level else "",
            summary=p.summary,
            reason=rec.reason,
            fit=fit,
        )
    d.utter_message(response="utter_recommendation_outro")
    return [*(SlotSet(slot, None) for slot in RISK_QUESTIONS), SlotSet("goal", None)]


def recommend_in_kind(
    s: Session, tracker: Tracker, d: CollectingDispatcher, w: Wording, kind: str, limit: int = 3
) -> list[EventType]:
    """Products of one kind that is not an investment, for the customer's segment: those made for
    it first, then the kind's others. Rated products are left to the full recommendation, which
    asks the risk questions and discloses first."""
    segment = tracker.get_slot("segment")
    categories: tuple[str, ...] = (kind,)
    if kind == "loans":  # the loans of the segment's own kind first (经营贷款 for a business owner)
        own = LOAN_FOR_SEGMENT.get(segment or "")
        categories = (*((own,) if own else ()), *(c for c in LOAN_CATEGORIES if c != own))
    elif kind == "cards":
        categories = CARD_CATEGORIES
    products = [p for c in categories for p in q.list_products(s, category=c) if not p.risk_level]
    made_for = [p for p in products if segment in p.segments]
    if kind == "cards":  # a card of each kind first ("适合学生的卡": a debit card, then a credit card)
        rank = {p.code: [m.category for m in made_for[:i]].count(p.category) for i, p in enumerate(made_for)}
        made_for.sort(key=lambda p: rank[p.code])
    picked = (made_for + [p for p in products if p not in made_for])[:limit]
    category = q.find_category(s, kind)
    category_name = category.name if category else w(f"fmt_kind_{kind}")
    segment_named = segment_name(s, segment)
    if not picked:
        d.utter_message(response="utter_recommendation_none")
        return [SlotSet("recommend_kind", None)]
    d.utter_message(
        response="utter_recommendation_kind_intro" if made_for else "utter_recommendation_kind_general",
        segment_name=segment_named,
        category_name=category_name,
    )
    for rank, p in enumerate(picked, 1):
        reason = w("fmt_made_for_segment", segment_name=segment_named) if p in made_for else w("fmt_for_everyone")
        d.utter_message(
            response="utter_recommendation_item",
            rank=rank,
            name=p.name,
            category_name=p.category_name,
            risk_note="",
            summary=p.summary,
            reason=reason,
            fit=w("fmt_no_rating"),
        )
    d.utter_message(response="utter_recommendation_kind_outro")
    return [SlotSet("recommend_kind", None)]


class ActionRecommendProducts(Action):
    """After the form: the tolerance from the questionnaire, then up to three suitable products."""

    def name(self) -> str:
        return "action_recommend_products"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        kind = tracker.get_slot("recommend_kind")
        if kind:
            with kb_session() as s:
                return recommend_in_kind(s, tracker, dispatcher, w, kind)
        events: list[EventType] = []
        tolerance = tracker.get_slot("risk_tolerance")
        no_loss = customer_accepts_no_loss(tracker)
        if not tolerance:
            answers = [risk_answer(tracker.get_slot(slot)) for slot in RISK_QUESTIONS]
            tolerance = tolerance_from([a for a in answers if a] or ["A"], no_loss=no_loss)
            events.append(SlotSet("risk_tolerance", tolerance))
            dispatcher.utter_message(
                response="utter_risk_result",
                tolerance=tolerance,
                tolerance_label=w(f"fmt_tolerance_{tolerance}"),
                max_risk=f"R{tolerance[1]}",
            )
        tracker.slots["risk_tolerance"] = tolerance
        with kb_session() as s:
            recs = _recommendations(s, tracker, tolerance)
            if not recs:
                dispatcher.utter_message(response="utter_recommendation_none")
                return events
            gate = disclosure_gate(s, [r.product for r in recs], "recommend", tracker, dispatcher)
            if gate is not None:
                return events + gate
            return events + show_recommendations(s, tracker, dispatcher, w)
