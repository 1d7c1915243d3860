"""Reception and handling: greeting, lost cards, fraud, contact, branches and appointments."""

from __future__ import annotations

import datetime as dt
import os
import re
from abc import ABC, abstractmethod
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.aftersales import stop_form
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
    latest_entities,
    no_free_text_answer,
    payload_value,
    previous_value,
    response_buttons,
    write_with_retry,
)
from actions.datetime_zh import parse_day, parse_parts
from banktext import redact, to_simplified
from knowledge import appointments
from knowledge import queries as q
from knowledge.appointments import BOOKING_DAYS_AHEAD
from knowledge.queries import BranchView
from knowledge.text import normalise

#: The bank's local time: opening hours and "tomorrow" are read in it.
BANK_TZ = ZoneInfo(os.environ.get("BANK_TIMEZONE", "Asia/Shanghai"))


def now_local() -> dt.datetime:
    return dt.datetime.now(BANK_TZ).replace(tzinfo=None)


class BankFactAction(Action, ABC):
    """Utter one response filled with the bank's facts (the domain never hard-codes them).

    The facts come from :func:`actions.common.bank_facts`, which never fails: lost cards
    and fraud get their urgent steps even while the knowledge base is down.
    """

    response = ""

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response=self.response, **bank_facts())
        return []


class ActionGreet(BankFactAction):
    response = "utter_greet"

    def name(self) -> str:
        return "action_greet"


class ActionShowCapabilities(BankFactAction):
    response = "utter_capabilities"

    def name(self) -> str:
        return "action_show_capabilities"


class ActionReportLostCard(BankFactAction):
    response = "utter_lost_card_steps"

    def name(self) -> str:
        return "action_report_lost_card"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        from actions.products import ActionAnswerFees, named_aspect

        card = "credit_card" if "credit_card" in latest_entities(tracker, "product_type") else "debit_card"
        context = [SlotSet("product_type", card), SlotSet("product_code", None), SlotSet("last_aspect", None)]
        text = customer_text(tracker)
        if named_aspect(text) == "fees" and tracker.get_slot("last_aspect") is None and "丢" not in text:
            # "挂失要收多少钱": the fee of reporting the card lost, not the steps again
            tracker.slots.update({"product_type": card, "product_code": None})
            return context + await ActionAnswerFees().run(dispatcher, tracker, domain)
        answer = lost_card_answer(text)
        if answer:
            dispatcher.utter_message(response=answer)
            if answer == SWALLOWED_CARD_HOW_TO:  # the card is at the branch that runs the ATM: a place next
                return [*context[:-1], SlotSet("last_aspect", "branch")]  # finds it ("在杭州西湖那边")
            return context
        events = await super().run(dispatcher, tracker, domain)
        return [*events, *context]


# A card an ATM kept is report_lost_card in the NLU contract (knowledge/seed/faq.yml trains the
# atm_retained_card topic as ``intent: report_lost_card``): it gets that topic's steps, not the
# urgent ones for a card lost now. So does a message read as report_lost_card that is about the
# replacement of a card already reported (faq/card_reissue_after_loss).
_SWALLOWED = re.compile(
    r"吞|被\w{0,4}吃|卡吃(?:了|掉|进)|吃(?:了|掉|进去|进)?(?:我的?)?卡|卡(?:片)?(?:没|没有|未)(?:退|吐|弹)|(?:没|没有|未)(?:退|吐|弹)卡"
)
_ALREADY_REPORTED = re.compile(r"(?:已经?|已)(?:电话|口头|临时|正式)?挂失|挂失(?:了|后|以后|之后|完|过|的)")
_REPLACEMENT = re.compile(r"补卡|补办|补发|补的|补了|补新卡|新卡")
_LOST_NOW = re.compile(r"丢|掉了|不见|找不到|被偷|被盗|被抢")


SWALLOWED_CARD_HOW_TO = "utter_faq/atm_retained_card"


def lost_card_answer(text: str) -> str | None:
    """The FAQ answer for a swallowed card or a replacement after reporting; None for the
    urgent steps of a card lost now."""
    plain = normalise(text)
    if _SWALLOWED.search(plain):
        return SWALLOWED_CARD_HOW_TO
    if _ALREADY_REPORTED.search(plain) or (_REPLACEMENT.search(plain) and not _LOST_NOW.search(plain)):
        return "utter_faq/card_reissue_after_loss"
    return None


class ActionReportFraud(BankFactAction):
    response = "utter_fraud_urgent"

    def name(self) -> str:
        return "action_report_fraud"


class ActionShowContact(BankFactAction):
    """The bank's numbers. When the customer says the phone does not get through or asks for
    another channel (online, abroad, the app), the knowledge base's channels answer; when they ask
    for a branch's number ("春熙路支行座机多少"), the branch with its phone, address and hours."""

    response = "utter_contact"

    def name(self) -> str:
        return "action_show_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        plain = normalise(customer_text(tracker))
        if _OTHER_CHANNEL.search(plain):
            dispatcher.utter_message(response="utter_faq/customer_service_channels")
            return []
        if _A_BRANCH.search(plain) or names_a_branch(plain):
            return await ActionFindBranches().run(dispatcher, tracker, domain)
        return await super().run(dispatcher, tracker, domain)


_A_BRANCH = re.compile(r"支行|分行|网点|营业厅|营业部")


_OTHER_CHANNEL = re.compile(
    r"打不通|打不进|没人接|占线|忙线|忙音|排队|等太久|等了|在线|网上|线上|网页|官网|app|公众号|微信|留言|打字"
    r"|国外|境外|海外|出国|别的(?:办法|渠道|方式)|其他(?:办法|渠道|方式)|还有什么|还能怎么|人少"
)


class ActionExplainBot(BankFactAction):
    response = "utter_iamabot"

    def name(self) -> str:
        return "action_explain_bot"


class ActionDeclineOutOfScope(BankFactAction):
    """Decline politely, unless the conversation shows what the message means: a place after
    the assistant asked where ("杭州西湖"), a new subject for the last question ("新能源车呢")."""

    response = "utter_out_of_scope"

    def name(self) -> str:
        return "action_decline_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        from actions.products import ANSWERS, ActionAnswerFollowup, answer_with_faq, is_follow_up, next_how_to

        text = customer_text(tracker)
        last = tracker.get_slot("last_aspect")
        if text and (names_a_branch(text) or (last == "branch" and (place_named(text) or _in_a_branch_city(text)))):
            return await ActionFindBranches().run(dispatcher, tracker, domain)
        if last in ANSWERS and is_follow_up(text):
            return await ActionAnswerFollowup().run(dispatcher, tracker, domain)
        if told_not_to_send_numbers(tracker, dispatcher):
            return []
        how_to = next_how_to(tracker)
        if how_to:  # "能调高吗" after the transfer limits
            return answer_with_faq(dispatcher, how_to)
        return await super().run(dispatcher, tracker, domain)


#: A card or ID number as the masking leaves it ("6222***********0123", "1101**********1234").
_MASKED_NUMBER = re.compile(r"\d{3,6}\*{6,}\d{3,4}")


def told_not_to_send_numbers(tracker: Tracker, dispatcher: CollectingDispatcher) -> bool:
    """A card or ID number sent as the message's point ("身份证号110105199001011234" after a lost card,
    read as out of scope or as a follow-up): masked already, the customer is told it is not needed
    here and where identity is checked."""
    if not _MASKED_NUMBER.search(redact(customer_text(tracker))):
        return False
    dispatcher.utter_message(response="utter_personal_number_masked", **bank_facts())
    return True


# --- branches ------------------------------------------------------------------------

#: A place a customer names: a city, county, district, town or a development zone (parsing vocabulary).
_PLACE_END = re.compile(r"(?<=[\u4e00-\u9fff]{2})[省市县区镇乡旗州盟]")
#: Words before a place name that are not part of it ("你们在无锡市", "去昆明市").
_BEFORE_PLACE = re.compile(r"^[\u4e00-\u9fff]*?(请问|你们|们|贵行|我们|在|去|到|的|是|有|那|想问|问下|问一下)+")
#: Large cities customers name without 市 ("深圳有网点吗"), beyond the catalogue's own (parsing vocabulary).
CITY_NAMES = (
    "深圳",
    "天津",
    "重庆",
    "南京",
    "苏州",
    "无锡",
    "常州",
    "宁波",
    "温州",
    "绍兴",
    "嘉兴",
    "金华",
    "合肥",
    "福州",
    "厦门",
    "泉州",
    "南昌",
    "济南",
    "青岛",
    "烟台",
    "郑州",
    "洛阳",
    "武汉",
    "长沙",
    "南宁",
    "海口",
    "三亚",
    "贵阳",
    "昆明",
    "拉萨",
    "西安",
    "兰州",
    "西宁",
    "银川",
    "乌鲁木齐",
    "呼和浩特",
    "太原",
    "石家庄",
    "沈阳",
    "大连",
    "长春",
    "哈尔滨",
    "东莞",
    "佛山",
    "珠海",
    "中山",
    "惠州",
    "汕头",
    "徐州",
    "扬州",
    "南通",
    "台州",
    "潍坊",
    "临沂",
    "唐山",
    "保定",
    "邯郸",
    "香港",
    "澳门",
    "台北",
)
#: Holidays whose opening hours a branch announces itself (parsing vocabulary).
HOLIDAY_WORDS = ("节假日", "假期", "春节", "过年", "国庆", "五一", "元旦", "中秋", "端午", "清明", "除夕", "年三十")


def _place_key(text: str) -> str:
    key = normalise(text)
    return key[:-1] if len(key) > 2 and key[-1] in "市区县" else key


def _short_name(branch: BranchView) -> str:
    """ "云澜银行北京国贸支行" → "国贸": what customers call a branch."""
    key = normalise(branch.name).removeprefix(normalise(bank_facts().get("bank_name", "")))
    key = key.removeprefix(_place_key(branch.city))
    return key.removesuffix("支行").removesuffix("分行") or key


def branches_in_text(s: Session, text: str) -> list[BranchView]:
    """Branches whose name (or what customers call it: "国贸"), or city and district, the customer mentioned."""
    key = normalise(text)
    if not key:
        return []
    branches = q.find_branches(s)
    by_name = [b for b in branches if normalise(b.name) in key or (len(_short_name(b)) >= 2 and _short_name(b) in key)]
    if by_name:
        return by_name
    in_city = [b for b in branches if _place_key(b.city) in key]
    in_district = [b for b in (in_city or branches) if _place_key(b.district) in key]
    if in_district:  # "广州天河": every branch of the district, for the customer to choose
        return in_district
    # the start of a branch's name ("云澜银行广州珠江")
    contained = [b for b in branches if len(key) >= 4 and key in normalise(b.name)]
    return contained or in_city


def _in_a_branch_city(text: str) -> bool:
    try:
        with kb_session() as s:
            return bool(branches_in_text(s, text))
    except KB_ERRORS:
        return False


def place_named(text: str) -> str | None:
    """A place the customer named that may have no branch ("昆明市", "盱眙县", "深圳"), masked and short."""
    key = normalise(text)
    for match in _PLACE_END.finditer(key):  # the words before 市/县/区 …, without "你们在", "去"
        end = match.end()
        place = _BEFORE_PLACE.sub("", key[max(0, end - 5) : end])
        if len(place) >= 3:
            return redact(place)[:12]
    return next((c for c in CITY_NAMES if c in key), None)


def names_a_branch(text: str) -> bool:
    """Whether ``text`` names one of our branches by its name ("湖滨支行", "国贸"), not only a city."""
    key = normalise(text)
    try:
        with kb_session() as s:
            branches = q.find_branches(s)
    except KB_ERRORS:
        return False
    return any(normalise(b.name) in key or (len(_short_name(b)) >= 2 and _short_name(b) in key) for b in branches)


def _weekday(w: Wording, day: dt.date) -> str:
    return w(f"fmt_weekday_{day.weekday()}")


def _hours_text(w: Wording, branch: BranchView, day: dt.date) -> str:
    span = branch.hours_on(day)
    return f"{span[0]:%H:%M}-{span[1]:%H:%M}" if span else w("fmt_closed")


def branch_list(w: Wording, branches: list[BranchView], day: dt.date, today: dt.date | None = None) -> str:
    label = (
        w("fmt_today", weekday=_weekday(w, day))  # "周六上班吗" asked on a Saturday: 今日（周六）
        if day == (today or day)
        else w("fmt_day", weekday=_weekday(w, day), month=day.month, day=day.day)
    )
    return "\n".join(
        w(
            "fmt_branch_row",
            name=b.name,
            address=b.address,
            phone=b.phone,
            day_label=label,
            hours=_hours_text(w, b, day),
        )
        for b in branches
    )


class ActionFindBranches(Action):
    """Branches in the place the customer named (or the one asked about before), with the
    opening hours of the day they ask about (today by default)."""

    def name(self) -> str:
        return "action_find_branches"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        text = tracker.latest_message.get("text") or ""
        text = "" if text.startswith("/") else text
        now = now_local()
        events: list[EventType] = [SlotSet("last_aspect", "branch")]
        with kb_session() as s:
            found = branches_in_text(s, text)
            if found:
                events.append(SlotSet("branch_context", ",".join(b.code for b in found[:5])))
            else:
                place = place_named(text)
                if place:  # a town with no branch of ours: say so, never "out of scope"
                    dispatcher.utter_message(
                        response="utter_branches_none", place=place, cities=w.join(q.list_cities(s)), **bank_facts()
                    )
                    return events
                # "周六开门不": the branches asked about before
                codes = [c for c in (tracker.get_slot("branch_context") or "").split(",") if c]
                found = [b for b in (q.get_branch(s, c) for c in codes) if b]
            if not found:
                dispatcher.utter_message(response="utter_ask_city", cities=w.join(q.list_cities(s)))
                return events
        asked = parse_day(text, now)
        if asked is None and tracker.get_slot("branch_day"):  # "那湖滨呢": the same day as asked before
            asked = dt.date.fromisoformat(tracker.get_slot("branch_day"))
        day = asked if asked and asked >= now.date() else now.date()
        events.append(SlotSet("branch_day", day.isoformat() if asked else None))
        dispatcher.utter_message(response="utter_branches_found", branches=branch_list(w, found[:5], day, now.date()))
        if any(word in text for word in HOLIDAY_WORDS):
            dispatcher.utter_message(response="utter_holiday_hours", **bank_facts())
        return events


# --- appointments ----------------------------------------------------------------------

#: What a customer says they want to do at the branch, as the choices the form offers (parsing vocabulary).
BUSINESS_WORDS = {
    "开户/办卡": ("开户", "办卡", "开卡", "开个户", "开个卡", "办张卡", "办一张卡", "办银行卡"),
    "大额取现": ("取现", "取钱", "取款", "大额", "现金"),
    "理财咨询": ("理财", "基金", "保险", "大额存单", "存定期", "买存单"),
    "贷款业务": ("贷款", "房贷", "车贷", "经营贷", "按揭"),
    "外币兑换": ("外币", "换汇", "购汇", "结汇", "美元", "港币", "欧元"),
    "挂失补卡": ("挂失", "补卡", "换卡"),
}
APPOINTMENT_SLOTS = ("appointment_branch", "appointment_time", "appointment_business")
#: The business a visit is for, after the FAQ topic the customer just asked about.
BUSINESS_OF_FAQ = {
    "large_cash_withdrawal": "大额取现",
    "card_replacement": "挂失补卡",
}


# Taking a queue number (预约取号) is book_appointment in the NLU contract (knowledge/seed/faq.yml
# trains the branch_queue_appointment topic as ``intent: book_appointment``). A question about how
# numbers work gets that topic's answer as the appointment form starts; a plain request to book does not.
_QUEUE_WORDS = re.compile(r"取号|排号|拿号|抽号|叫号|过号|号过|预约码|约的?号(?!码)|排队|签到|报到|绿色通道|vip窗口")
_QUESTION = re.compile(r"怎么|咋|如何|哪|吗|么|能不能|可不可以|可以|多久|几|什么|啥|要不要|是不是|还能")
#: A change to a booking already made: "我想改一下预约时间", "预约能改到后天吗", "改约", "推迟一天".
_CHANGE_WORDS = re.compile(
    r"改约|改期|(?:改|换|调|调整|推迟|推后|延后|延期|提前|挪)(?:一下|个|下)?(?:预约|时间|日期|到|成|约|天|期|一天|两天)"
)
_MISHAP = re.compile(r"过号|号过|过期|没听到|找不到|取消|改期")


def asks_how_queueing_works(text: str) -> bool:
    plain = normalise(text)
    asked = _QUESTION.search(plain) or "?" in text or "？" in text  # normalise drops punctuation
    return bool(_QUEUE_WORDS.search(plain) and (asked or _MISHAP.search(plain)))


#: "需要预约吗", "要不要提前预约", "能直接去吗": whether a visit must be booked, not a request to book.
_WHETHER_TO_BOOK = re.compile(
    r"(?:需要|要|用|得|必须)(?:提前|先)?预约(?:吗|么|嘛|不|没)"
    r"|(?:要不要|用不用|需不需要|是否需要|是不是要|是不是得)(?:提前|先)?预约"
    r"|(?:能|可以)直接(?:去|过去|到网点)|不预约(?:能|可以|行)"
)


def asks_whether_to_book(text: str) -> bool:
    return bool(_WHETHER_TO_BOOK.search(normalise(text)))


def say_whether_to_book(tracker: Tracker, dispatcher: CollectingDispatcher, domain: DomainDict) -> None:
    """ "我要开对公账户，需要预约吗": the how-to of a business that has one (a large cash withdrawal
    is booked a day ahead), else the product's own way of applying when it books the visit (the
    account opening is booked online first), else that most visits need no booking and a booking
    shortens the wait. The form then offers to book one all the same."""
    from actions.resolve import resolve

    business = business_named(customer_text(tracker), domain)
    how_to = next((topic for topic, named in BUSINESS_OF_FAQ.items() if named == business), None)
    if how_to:
        dispatcher.utter_message(response=f"utter_faq/{how_to}")
        return
    with kb_session() as s:
        found = resolve(s, tracker)
        products = (
            [found.product]
            if found.product
            else q.list_products(s, category=found.category.code) if found.category else []
        )
    booked = [p for p in products if any("预约" in step for step in p.apply_steps)]
    if len(booked) == 1:
        steps = "；".join(booked[0].apply_steps)
        dispatcher.utter_message(response="utter_booking_in_the_steps", product=booked[0].name, steps=steps)
    else:
        dispatcher.utter_message(response="utter_booking_not_required")


def business_named(text: str, domain: DomainDict) -> str | None:
    """The business a message names: a choice's label typed, or its words."""
    typed = button_typed(text, response_buttons(domain, "utter_ask_appointment_business"))
    if typed:
        return payload_value(typed, "choice")
    key = to_simplified(text)
    return next((choice for choice, words in BUSINESS_WORDS.items() if any(word in key for word in words)), None)


class ValidateAppointmentForm(GuardedFormValidation):
    """A real branch, a time within its opening hours in the next 30 days, a business type.

    Whatever the customer says is read for all three, whichever was asked: the opening
    "明天下午两点去中关村支行开户" fills the form at once, "时间改成下周二下午两点" changes
    the time while the business is being asked. A twice-refused answer offers a person.
    """

    opening_intent = "book_appointment"

    def name(self) -> str:
        return "validate_appointment_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        if tracker.get_slot("requested_slot") is None and asks_how_queueing_works(customer_text(tracker)):
            # "线上取号怎么取" / "过号了怎么办": how queue numbers work first, then the offer to book one
            dispatcher.utter_message(response="utter_faq/branch_queue_appointment")
        elif tracker.get_slot("requested_slot") is None and asks_whether_to_book(customer_text(tracker)):
            say_whether_to_book(tracker, dispatcher, domain)
        return await super().run(dispatcher, tracker, domain)

    async def get_extraction_events(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """What the message says; and as the form starts, what the conversation already says for
        what the message does not: the booking a change of time starts from ("预约能改到后天吗": its
        branch and business), else the branch just looked up ("帮我约一下") and the business of the
        how-to just answered ("大额取现要预约吗" → 大额取现)."""
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        if tracker.get_slot("requested_slot") is not None:  # the form is under way: the message alone
            return events
        changed = _booking_changed(tracker, Wording(domain))
        if changed:
            dispatcher.utter_message(response="utter_changing_appointment", **changed._asdict())
            known = {"appointment_branch": changed.branch_code, "appointment_business": changed.business}
        else:
            looked_up = [c for c in (tracker.get_slot("branch_context") or "").split(",") if c]
            known = {
                "appointment_branch": looked_up[0] if len(looked_up) == 1 else None,
                "appointment_business": BUSINESS_OF_FAQ.get(tracker.get_slot("last_faq") or ""),
            }
        said = {event["name"] for event in events}
        return [
            *events,
            *(
                SlotSet(slot, value)
                for slot, value in known.items()
                if value and slot not in said and not tracker.get_slot(slot)
            ),
        ]

    async def extract_appointment_time(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = customer_text(tracker)
        day, clock = parse_parts(text, now_local())
        return {"appointment_time": text} if day or clock else {}

    async def extract_appointment_branch(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = customer_text(tracker)
        with kb_session() as s:
            if text and branches_in_text(s, text):
                return {"appointment_branch": text}
        return {}

    async def extract_appointment_business(self, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        choice = business_named(customer_text(tracker), domain)
        return {"appointment_business": choice} if choice else {}

    def validate_appointment_branch(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = str(value or "")
        with kb_session() as s:
            if q.get_branch(s, text):
                return {"appointment_branch": text, **form_hit()}
            found = branches_in_text(s, text)
            if len(found) == 1:
                return {"appointment_branch": found[0].code, **form_hit()}
            previous = previous_value(tracker, "appointment_branch")
            day, clock = parse_parts(text, now_local())
            about_else = tracker.get_slot("requested_slot") != "appointment_branch" or day or clock
            if not found and about_else:
                return {"appointment_branch": previous}  # a time or a change of mind, not a branch
            if found:  # the customer named a town or a district: a choice, not a miss
                dispatcher.utter_message(
                    response="utter_choose_branch",
                    buttons=[{"title": b.name, "payload": f'/inform{{"choice": "{b.code}"}}'} for b in found[:8]],
                )
                return {"appointment_branch": None}
            else:
                dispatcher.utter_message(
                    response="utter_branch_not_found",
                    place=place_named(text) or redact(text)[:12],
                    cities=Wording(domain).join(q.list_cities(s)),
                )
        return {"appointment_branch": None, **form_missed(tracker, dispatcher)}

    def validate_appointment_time(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        w = Wording(domain)
        now = now_local()
        text = str(value or "")
        day, clock = parse_parts(text, now)
        if (day is None) != (clock is None):
            # "10点" after "周六上午" (the day said before, and its 上午), "周六" after "下午两点": the part
            # missing now from an earlier message of this booking; this message's own words come first
            for earlier in said_earlier_in_form(tracker, self.form_name()):
                day_then, clock_then = parse_parts(f"{text} {earlier}", now)
                if day_then and clock_then:
                    day, clock = day or day_then, clock_then
                    break
        if day is None or clock is None:
            if tracker.get_slot("requested_slot") != "appointment_time" and not (day or clock):
                return {"appointment_time": previous_value(tracker, "appointment_time")}
            reason = "utter_time_needs_day" if clock else "utter_time_needs_hour" if day else "utter_invalid_time"
            dispatcher.utter_message(response=reason, value=redact(text)[:30])
            return {"appointment_time": None, **form_missed(tracker, dispatcher)}
        when = dt.datetime.combine(day, clock)
        label = format_when(w, when)
        if when <= now:
            dispatcher.utter_message(response="utter_time_in_past", when=label)
            return {"appointment_time": None, **form_missed(tracker, dispatcher)}
        if when.date() > now.date() + dt.timedelta(days=BOOKING_DAYS_AHEAD):
            dispatcher.utter_message(response="utter_time_too_far")
            return {"appointment_time": None, **form_missed(tracker, dispatcher)}
        with kb_session() as s:
            branch = q.get_branch(s, tracker.get_slot("appointment_branch") or "")
        if branch and not branch.is_open_at(when):
            dispatcher.utter_message(
                response="utter_branch_closed_then",
                branch=branch.name,
                when=label,
                hours=_hours_text(w, branch, when.date()),
            )
            return {"appointment_time": None, **form_missed(tracker, dispatcher)}
        iso = when.isoformat(timespec="minutes")
        previous = previous_value(tracker, "appointment_time")
        if previous and previous != iso:
            dispatcher.utter_message(response="utter_time_changed", when=label)
        return {"appointment_time": iso, **form_hit()}

    def validate_appointment_business(self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict) -> dict:
        text = redact(str(value or "")).strip()
        choice = business_named(text, domain)
        if choice:
            return {"appointment_business": choice, **form_hit()}
        day, clock = parse_parts(text, now_local())
        with kb_session() as s:
            about_else = bool(day or clock) or bool(branches_in_text(s, text))
        if about_else:  # "时间改成下周二下午两点": a change of time or branch, not the business
            return {"appointment_business": previous_value(tracker, "appointment_business")}
        if no_free_text_answer(tracker, dispatcher, "utter_invalid_business"):  # "asdfgh", "没看懂": no business
            return {"appointment_business": None, **form_missed(tracker, dispatcher)}
        return {"appointment_business": text[:30] or None, **form_hit()}


#: Answers to a branch that was not one: they ask the customer already, with buttons or a request
#: for other words, so the form's own question would ask twice.
ASKED_FOR_A_BRANCH = ("utter_choose_branch", "utter_branch_not_found")


#: What the time's validation says that asks for the time again in its own words.
ASKED_FOR_A_TIME = (
    "utter_time_needs_day",
    "utter_time_needs_hour",
    "utter_invalid_time",
    "utter_time_in_past",
    "utter_time_too_far",
    "utter_branch_closed_then",
)


class AskUnlessAsked(Action, ABC):
    """A booking form's question, unless the answer to this message already asked it in its own
    words: "找到多个网点，请选择一个" with the branches as buttons; "请问那天几点过来？" after "明天下午"
    (the form's "请问预约什么时间？" had followed it, two questions for one)."""

    question: str
    asked: tuple[str, ...]

    @abstractmethod
    def name(self) -> str:
        """``action_ask_<slot>``: the form asks with it instead of ``utter_ask_<slot>``."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if not said_since_the_customer(tracker, self.asked):
            dispatcher.utter_message(response=self.question)
        return []


class ActionAskAppointmentBranch(AskUnlessAsked):
    question, asked = "utter_ask_appointment_branch", ASKED_FOR_A_BRANCH

    def name(self) -> str:
        return "action_ask_appointment_branch"


class ActionAskAppointmentTime(AskUnlessAsked):
    question, asked = "utter_ask_appointment_time", ASKED_FOR_A_TIME

    def name(self) -> str:
        return "action_ask_appointment_time"


def said_since_the_customer(tracker: Tracker, responses: tuple[str, ...]) -> bool:
    """Whether the bot said one of ``responses`` since the customer's latest message."""
    for event in reversed(list(tracker.events)):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") in responses:
            return True
    return False


def said_earlier_in_form(tracker: Tracker, form: str) -> list[str]:
    """What the customer said before this message since ``form`` started (the message that started
    it included), most recent first."""
    said: list[str] = []
    current_skipped = started = False
    for event in reversed(list(tracker.events)):
        if event.get("event") == "active_loop":
            if event.get("name") != form:  # another form, or the end of an earlier one: not this booking
                return []
            started = True
        elif event.get("event") == "user":
            if not current_skipped:
                current_skipped = True
                continue
            said.append(str(event.get("text") or ""))
            if started:
                break
    return said if started else []


def format_when(w: Wording, when: dt.datetime) -> str:
    return w(
        "fmt_datetime",
        month=when.month,
        day=when.day,
        weekday=_weekday(w, when.date()),
        hour=when.hour,
        minute=when.minute,
    )


#: The appointment the customer was asked to confirm cancelling (its code).
CANCEL_SLOT = "appointment_to_cancel"


class _Booked(NamedTuple):
    """An appointment as the customer hears it (and its branch's code)."""

    code: str
    when: str
    branch: str
    business: str
    branch_code: str
    #: said after it when branch staff moved it at the customer's request (its former time)
    moved: str = ""


def _booked(s: Session, w: Wording, row: Any) -> _Booked:
    branch = q.get_branch(s, row.branch_code)
    name = branch.name if branch else row.branch_code
    moved = w("fmt_appointment_moved", was=format_when(w, row.moved_from)) if row.moved_from else ""
    return _Booked(row.code, format_when(w, row.starts_at), name, row.business, row.branch_code, moved)


def cancel_payload(code: str) -> str:
    """A button's payload that cancels the appointment ``code``: a command, so a press keeps the
    customer's script (a Traditional customer's reply stays Traditional), with the code to read."""
    return f'/cancel_appointment{{"appointment_code": "{code}"}}'


def _ahead(tracker: Tracker, w: Wording) -> list[_Booked]:
    """The conversation's appointments still ahead, soonest first."""
    with kb_session() as s:
        return [_booked(s, w, row) for row in appointments.upcoming_of(s, conversation_id(tracker), now_local())]


def _booking_changed(tracker: Tracker, w: Wording) -> _Booked | None:
    """The booking the customer asks to change as the booking form starts ("我想改一下预约时间",
    "预约能改到后天吗"): their only one still ahead. The new booking keeps its branch and business
    unless the message names others; the old one is named with a button to cancel it once the new
    one is made (nothing is cancelled unasked)."""
    if not _CHANGE_WORDS.search(normalise(customer_text(tracker))):
        return None
    with kb_session() as s:
        ahead = appointments.upcoming_of(s, conversation_id(tracker), now_local())
        return _booked(s, w, ahead[0]) if len(ahead) == 1 else None


def _list_with_cancel_buttons(
    dispatcher: CollectingDispatcher, w: Wording, response: str, booked: list[_Booked]
) -> None:
    """Name each appointment (time, branch, business, code), with a button that cancels it."""
    dispatcher.utter_message(
        response=response,
        count=len(booked),
        rows="\n".join(w("fmt_appointment_row", **b._asdict()) for b in booked),
        buttons=[
            {"title": w("fmt_cancel_other_appointment", when=b.when), "payload": cancel_payload(b.code)} for b in booked
        ],
    )


class ActionBookAppointment(Action):
    """Store the booking and confirm it with its code. When the customer has other appointments
    still ahead here (a change of time booked as a new one), they are named, each with a button
    that cancels it, so that a change does not leave two bookings."""

    def name(self) -> str:
        return "action_book_appointment"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        when = dt.datetime.fromisoformat(tracker.get_slot("appointment_time"))
        business = tracker.get_slot("appointment_business")

        def book(s: Session) -> tuple[BranchView, str, list[_Booked]]:
            branch = q.get_branch(s, tracker.get_slot("appointment_branch"))
            code = q.book_appointment(s, conversation_id(tracker), branch.code, when, business)
            ahead = appointments.upcoming_of(s, conversation_id(tracker), now_local())
            return branch, code, [_booked(s, w, row) for row in ahead if row.code != code]

        try:
            branch, code, others = await write_with_retry(book)
        except KB_ERRORS:
            # nothing booked: say so; the answers are kept, so "预约" again books them
            dispatcher.utter_message(response="utter_booking_not_saved", **bank_facts())
            return []
        dispatcher.utter_message(
            response="utter_appointment_confirmed",
            code=code,
            branch=branch.name,
            address=branch.address,
            when=format_when(w, when),
            business=business,
        )
        if others:
            _list_with_cancel_buttons(dispatcher, w, "utter_other_appointments", others)
        from actions.reminders import appointment_offer

        offer = appointment_offer(dispatcher, when, branch.name)
        return [*(SlotSet(slot, None) for slot in (*APPOINTMENT_SLOTS, "form_misses")), *offer]


def _answers(tracker: Tracker, action: str) -> bool:
    """Whether the latest message answers ``action``: the bot's last action before it."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name") == action
    return False


class ActionCancelAppointment(Action):
    """Cancel a branch appointment booked here ("取消预约", "明天去不了了，帮我把预约取消了").

    Named by its code (typed, or the button of the question), it is cancelled at once, with the
    reminder set for it. Not named, the customer's own appointments still ahead are offered: one
    to confirm (a yes cancels it, a no keeps it), several to choose from. Only the conversation
    that booked an appointment can cancel it, and another's code gets no details."""

    def name(self) -> str:
        return "action_cancel_appointment"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        codes = appointments.appointment_codes_in(tracker.latest_message.get("text") or "")
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        # the booking named in the question just asked: a yes, or "取消这个预约" again, cancels it
        asked = tracker.get_slot(CANCEL_SLOT) if _answers(tracker, self.name()) else None
        if asked and intent == "deny":
            dispatcher.utter_message(response="utter_appointment_kept", code=asked)
            return [SlotSet(CANCEL_SLOT, None)]
        code = codes[0] if codes else asked if intent in ("affirm", "cancel_appointment") else None
        if code:
            await self._cancel(dispatcher, tracker, w, code)
            return [SlotSet(CANCEL_SLOT, None)]
        ahead = _ahead(tracker, w)
        if len(ahead) == 1:
            dispatcher.utter_message(
                response="utter_confirm_cancel_appointment",
                **ahead[0]._asdict(),
                buttons=[
                    {"title": w("fmt_cancel_appointment_yes"), "payload": cancel_payload(ahead[0].code)},
                    {"title": w("fmt_cancel_appointment_no"), "payload": "/deny"},
                ],
            )
            return [SlotSet(CANCEL_SLOT, ahead[0].code)]
        if ahead:
            _list_with_cancel_buttons(dispatcher, w, "utter_which_appointment_to_cancel", ahead)
        else:
            dispatcher.utter_message(response="utter_no_appointment_to_cancel", **bank_facts())
        return [SlotSet(CANCEL_SLOT, None)]

    @staticmethod
    async def _cancel(dispatcher: CollectingDispatcher, tracker: Tracker, w: Wording, code: str) -> None:
        def cancel(s: Session) -> tuple[str, _Booked | None, int]:
            done = appointments.cancel(s, conversation_id(tracker), code, now_local())
            return done.outcome, _booked(s, w, done.appointment) if done.appointment else None, done.reminders_cancelled

        try:
            outcome, booked, reminders = await write_with_retry(cancel)
        except KB_ERRORS:
            dispatcher.utter_message(response="utter_appointment_not_cancelled", code=code, **bank_facts())
            return
        if booked is None:  # no such code, or booked in another conversation: nothing about it is told
            dispatcher.utter_message(response="utter_appointment_not_found", code=code, **bank_facts())
            return
        dispatcher.utter_message(
            response=f"utter_appointment_{outcome}",
            **booked._asdict(),
            reminder_note=w("fmt_appointment_reminder_cancelled") if reminders else "",
        )


class ActionCancelAppointmentInForm(ActionCancelAppointment):
    """ "取消预约" in the middle of booking one: the customer leaves the booking in progress. With a
    stored appointment's code ("取消预约YY…"), that one is cancelled instead, and the form left quietly."""

    def name(self) -> str:
        return "action_cancel_appointment_in_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if not appointments.appointment_codes_in(tracker.latest_message.get("text") or ""):
            return stop_form(dispatcher, tracker, domain)
        left = stop_form(dispatcher, tracker, domain, quiet=True)
        return [*left, *await super().run(dispatcher, tracker, domain)]


class ActionListAppointments(Action):
    """The customer's own appointments still ahead ("我的预约", "我预约的是几点来着"), each with a button
    that cancels it; none, and the bot says where else a booking may have been made."""

    def name(self) -> str:
        return "action_list_appointments"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        ahead = _ahead(tracker, w)
        if ahead:
            _list_with_cancel_buttons(dispatcher, w, "utter_your_appointments", ahead)
        else:
            dispatcher.utter_message(response="utter_no_appointments", **bank_facts())
        return []
