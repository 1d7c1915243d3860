"""Cancelling a branch appointment booked here: asked and confirmed, by its code, only by the
conversation that booked it, with the reminder set for it."""

from __future__ import annotations

import datetime as dt

import pytest
from rasa_sdk.events import ActiveLoop
from sqlalchemy import select

from actions import handling
from actions.handling import (
    CANCEL_SLOT,
    ActionBookAppointment,
    ActionCancelAppointment,
    ActionCancelAppointmentInForm,
    ActionListAppointments,
    ValidateAppointmentForm,
    cancel_payload,
)
from knowledge import models as m
from knowledge import queries as q
from knowledge import reminders
from knowledge.db import session_scope
from tests.actions.conftest import responses, slots_set

NOW = dt.datetime(2026, 12, 3, 15, 0)  # Beijing


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(handling, "now_local", lambda: NOW)


@pytest.fixture
def book(kb_url, seed):
    """Book an appointment for a conversation, ``days`` from NOW, optionally with its reminder."""
    branch = next(b for b in seed.branches if b.hours.get("mon"))  # open on Mondays: a change books one

    def booked(sender: str, days: float, remind: bool = False) -> str:
        when = NOW + dt.timedelta(days=days)
        with session_scope(kb_url) as s:
            code = q.book_appointment(s, sender, branch.code, when, "开户/办卡")
            if remind:
                reminders.add(s, sender, "appointment", branch.name, when, reminders.to_utc(NOW))
        return code

    return booked


def _stored(kb, code: str) -> m.Appointment:
    kb.expire_all()
    return kb.scalar(select(m.Appointment).where(m.Appointment.code == code))


def _reminder_states(kb, sender: str) -> list[str]:
    kb.expire_all()
    return [r.status for r in kb.scalars(select(m.Reminder).where(m.Reminder.conversation_id == sender))]


#: The bot's question about a booking just before the customer's message.
ASKED = [{"event": "action", "name": "action_cancel_appointment"}, {"event": "action", "name": "action_listen"}]


async def _say(tracker_for, domain, dispatcher, text: str, intent: str, sender: str, **kwargs):
    dispatcher.messages.clear()
    tracker = tracker_for(text, intent, sender_id=sender, **kwargs)
    action = ActionCancelAppointmentInForm() if kwargs.get("active_loop") else ActionCancelAppointment()
    return await action.run(dispatcher, tracker, domain)


async def test_one_appointment_is_asked_about_then_cancelled_with_its_reminder(
    book, kb, dispatcher, tracker_for, domain
):
    sender = "web:cancel-one"
    code = book(sender, 2, remind=True)
    with session_scope() as s:  # another reminder of the same customer stays
        reminders.add(s, sender, "maturity", "三年定期", NOW + dt.timedelta(days=20), reminders.to_utc(NOW))

    events = await _say(tracker_for, domain, dispatcher, "帮我把预约取消了", "cancel_appointment", sender)
    assert responses(dispatcher) == ["utter_confirm_cancel_appointment"]
    asked = dispatcher.messages[0]
    assert asked["code"] == code and asked["business"] == "开户/办卡"
    assert [b["payload"] for b in asked["buttons"]] == [cancel_payload(code), "/deny"]
    assert slots_set(events) == {CANCEL_SLOT: code}
    assert _stored(kb, code).cancelled_at is None

    # a yes long after the question cancels nothing
    await _say(tracker_for, domain, dispatcher, "好的", "affirm", sender, slots={CANCEL_SLOT: code})
    assert responses(dispatcher) == ["utter_confirm_cancel_appointment"] and _stored(kb, code).cancelled_at is None

    events = await _say(
        tracker_for, domain, dispatcher, "好的", "affirm", sender, slots={CANCEL_SLOT: code}, events=ASKED
    )
    assert responses(dispatcher) == ["utter_appointment_cancelled"]
    assert dispatcher.messages[0]["reminder_note"]  # the customer hears the reminder is gone too
    assert _stored(kb, code).cancelled_at is not None
    assert sorted(_reminder_states(kb, sender)) == ["cancelled", "pending"]
    assert slots_set(events) == {CANCEL_SLOT: None}

    # nothing left to cancel
    await _say(tracker_for, domain, dispatcher, "取消预约", "cancel_appointment", sender)
    assert responses(dispatcher) == ["utter_no_appointment_to_cancel"]
    assert dispatcher.messages[0]["hotline"]


async def test_a_no_keeps_the_appointment(book, kb, dispatcher, tracker_for, domain):
    sender = "web:cancel-no"
    code = book(sender, 1)
    await _say(tracker_for, domain, dispatcher, "保留预约", "deny", sender, slots={CANCEL_SLOT: code}, events=ASKED)
    assert responses(dispatcher) == ["utter_appointment_kept"]
    assert _stored(kb, code).cancelled_at is None


async def test_the_button_label_typed_after_the_question_cancels(book, kb, dispatcher, tracker_for, domain):
    sender = "web:cancel-typed"
    code = book(sender, 1)
    slots = {CANCEL_SLOT: code}
    await _say(tracker_for, domain, dispatcher, "取消这个预约", "cancel_appointment", sender, slots=slots, events=ASKED)
    assert responses(dispatcher) == ["utter_appointment_cancelled"]
    assert _stored(kb, code).cancelled_at is not None


async def test_a_code_cancels_at_once_and_twice_is_said(book, kb, dispatcher, tracker_for, domain):
    sender = "web:cancel-code"
    code = book(sender, 3)
    typed = f"取消预约 {code[:2].lower()} {code[2:8]}-{code[8:].lower()}"
    await _say(tracker_for, domain, dispatcher, typed, "cancel_appointment", sender)
    assert responses(dispatcher) == ["utter_appointment_cancelled"]
    assert dispatcher.messages[0]["reminder_note"] == ""
    assert _stored(kb, code).cancelled_at is not None
    await _say(tracker_for, domain, dispatcher, cancel_payload(code), "cancel_appointment", sender)  # the button
    assert responses(dispatcher) == ["utter_appointment_already"]


async def test_another_conversations_code_is_neither_cancelled_nor_described(book, kb, dispatcher, tracker_for, domain):
    code = book("web:cancel-owner", 2)
    await _say(tracker_for, domain, dispatcher, f"取消预约 {code}", "cancel_appointment", "web:someone-else")
    assert responses(dispatcher) == ["utter_appointment_not_found"]
    assert set(dispatcher.messages[0]) >= {"code", "hotline"} and "branch" not in dispatcher.messages[0]
    assert _stored(kb, code).cancelled_at is None


async def test_several_appointments_are_offered_to_choose_and_past_ones_are_not(
    book, kb, dispatcher, tracker_for, domain
):
    sender = "web:cancel-several"
    past = book(sender, -1)
    first, second = book(sender, 1), book(sender, 5)
    events = await _say(tracker_for, domain, dispatcher, "取消预约", "cancel_appointment", sender)
    assert responses(dispatcher) == ["utter_which_appointment_to_cancel"]
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [cancel_payload(first), cancel_payload(second)]
    assert slots_set(events) == {CANCEL_SLOT: None}  # a yes alone cancels nothing
    await _say(tracker_for, domain, dispatcher, f"取消预约 {past}", "cancel_appointment", sender)
    assert responses(dispatcher) == ["utter_appointment_past"]
    assert _stored(kb, past).cancelled_at is None


async def test_inside_the_booking_form_it_leaves_the_booking_in_progress(book, kb, dispatcher, tracker_for, domain):
    sender = "web:cancel-in-form"
    code = book(sender, 2)
    slots = {"requested_slot": "appointment_time", "appointment_branch": "BJ-GM"}
    events = await _say(
        tracker_for,
        domain,
        dispatcher,
        "取消预约",
        "cancel_appointment",
        sender,
        slots=slots,
        active_loop="appointment_form",
    )
    assert responses(dispatcher) == ["utter_form_stopped"]
    assert ActiveLoop(None) in events and slots_set(events)["appointment_branch"] is None
    assert _stored(kb, code).cancelled_at is None  # the stored one is not what was meant

    # naming a stored appointment's code leaves the form quietly and cancels that one
    events = await _say(
        tracker_for,
        domain,
        dispatcher,
        f"取消预约{code}",
        "cancel_appointment",
        sender,
        slots=slots,
        active_loop="appointment_form",
    )
    assert responses(dispatcher) == ["utter_appointment_cancelled"]
    assert ActiveLoop(None) in events
    assert _stored(kb, code).cancelled_at is not None


async def test_a_new_booking_names_the_others_still_ahead_with_a_button_to_cancel_each(
    book, kb, dispatcher, tracker_for, domain, seed
):
    sender = "web:cancel-rebook"
    old = book(sender, 2)
    branch = seed.branches[0]
    slots = {
        "appointment_branch": branch.code,
        "appointment_time": (NOW + dt.timedelta(days=3)).isoformat(timespec="minutes"),
        "appointment_business": "大额取现",
    }
    dispatcher.messages.clear()
    await ActionBookAppointment().run(dispatcher, tracker_for("", "inform", sender_id=sender, slots=slots), domain)
    assert responses(dispatcher)[:2] == ["utter_appointment_confirmed", "utter_other_appointments"]
    other = dispatcher.messages[1]
    assert old in other["rows"] and other["count"] == 1
    assert [b["payload"] for b in other["buttons"]] == [cancel_payload(old)]
    assert _stored(kb, old).cancelled_at is None  # named, not cancelled


async def test_a_first_booking_names_no_others(book, dispatcher, tracker_for, domain, seed):
    slots = {
        "appointment_branch": seed.branches[0].code,
        "appointment_time": (NOW + dt.timedelta(days=3)).isoformat(timespec="minutes"),
        "appointment_business": "大额取现",
    }
    dispatcher.messages.clear()
    tracker = tracker_for("", "inform", sender_id="web:first-booking", slots=slots)
    await ActionBookAppointment().run(dispatcher, tracker, domain)
    assert "utter_other_appointments" not in responses(dispatcher)


async def test_the_customers_own_appointments_are_listed_each_with_a_button_to_cancel_it(
    book, dispatcher, tracker_for, domain
):
    sender = "web:list-mine"
    book(sender, -1)  # past: not listed
    first, second = book(sender, 1), book(sender, 4)
    book("web:someone-else-listing", 2)
    dispatcher.messages.clear()
    await ActionListAppointments().run(
        dispatcher, tracker_for("我的预约", "list_appointments", sender_id=sender), domain
    )
    assert responses(dispatcher) == ["utter_your_appointments"]
    listed = dispatcher.messages[0]
    assert (
        first in listed["rows"]
        and second in listed["rows"]
        and listed["rows"].index(first) < listed["rows"].index(second)
    )
    assert [b["payload"] for b in listed["buttons"]] == [cancel_payload(first), cancel_payload(second)]

    dispatcher.messages.clear()
    await ActionListAppointments().run(
        dispatcher, tracker_for("我的预约", "list_appointments", sender_id="web:none"), domain
    )
    assert responses(dispatcher) == ["utter_no_appointments"]


async def _start_booking(tracker_for, domain, dispatcher, text: str, sender: str) -> dict:
    dispatcher.messages.clear()
    tracker = tracker_for(text, "book_appointment", sender_id=sender, active_loop="appointment_form")
    return slots_set(await ValidateAppointmentForm().run(dispatcher, tracker, domain))


async def test_a_change_of_time_keeps_the_branch_and_business_of_the_only_booking(
    book, kb, dispatcher, tracker_for, domain, seed
):
    sender = "web:change"
    old = book(sender, 2)
    stored = _stored(kb, old)
    got = await _start_booking(tracker_for, domain, dispatcher, "我想把预约改到下周一上午10点", sender)
    assert responses(dispatcher)[0] == "utter_changing_appointment" and dispatcher.messages[0]["code"] == old
    assert got["appointment_branch"] == stored.branch_code and got["appointment_business"] == "开户/办卡"
    assert got["appointment_time"] == "2026-12-07T10:00"
    assert _stored(kb, old).cancelled_at is None  # nothing is cancelled unasked

    # no time said: the branch and business are kept, the time is asked
    got = await _start_booking(tracker_for, domain, dispatcher, "我想改一下预约时间", sender)
    assert got["appointment_branch"] == stored.branch_code and not got.get("appointment_time")


@pytest.mark.parametrize("text", ["我想预约下周一上午10点", "换卡要预约吗"])
async def test_a_booking_that_is_not_a_change_starts_afresh(text, book, dispatcher, tracker_for, domain):
    sender = f"web:not-a-change-{len(text)}"
    book(sender, 2)
    got = await _start_booking(tracker_for, domain, dispatcher, text, sender)
    assert "utter_changing_appointment" not in responses(dispatcher)
    assert not got.get("appointment_branch")


async def test_a_change_with_two_bookings_ahead_does_not_guess(book, dispatcher, tracker_for, domain):
    sender = "web:change-two"
    book(sender, 1), book(sender, 3)
    got = await _start_booking(tracker_for, domain, dispatcher, "预约能改到下周一吗", sender)
    assert "utter_changing_appointment" not in responses(dispatcher) and not got.get("appointment_branch")


async def test_a_booking_starts_from_what_the_conversation_already_says(book, kb, dispatcher, tracker_for, domain):
    """The branch just looked up and the business of the how-to just answered, unless the message
    names them; a change of time starts from the booking instead."""

    async def start(text: str, sender: str, **slots) -> dict:
        dispatcher.messages.clear()
        tracker = tracker_for(text, "book_appointment", sender_id=sender, slots=slots, active_loop="appointment_form")
        return slots_set(await ValidateAppointmentForm().run(dispatcher, tracker, domain))

    got = await start("帮我约一下", "web:looked-up", branch_context="BJ-CY-01", last_faq="large_cash_withdrawal")
    assert got["appointment_branch"] == "BJ-CY-01" and got["appointment_business"] == "大额取现"
    got = await start(
        "帮我约一下开户", "web:looked-up", branch_context="BJ-CY-01,BJ-HD-01", last_faq="large_cash_withdrawal"
    )
    assert "appointment_branch" not in got and got["appointment_business"] == "开户/办卡"  # two looked up: asked

    sender = "web:changed-after-lookup"
    old = book(sender, 2)
    got = await start("预约能改到下周一上午10点吗", sender, branch_context="BJ-CY-01", last_faq="large_cash_withdrawal")
    stored = _stored(kb, old)
    assert got["appointment_branch"] == stored.branch_code and got["appointment_business"] == stored.business


# --- what branch staff record on the desk's appointments page -------------------------------


def test_staff_cancel_for_the_customer_and_the_customer_is_not_reminded(book, kb):
    from knowledge import appointments

    sender = "web:staff-cancel"
    code = book(sender, 2, remind=True)
    with session_scope() as s:  # the customer's other reminder stays
        reminders.add(s, sender, "maturity", "三年定期", NOW + dt.timedelta(days=20), reminders.to_utc(NOW))
    with session_scope() as s:
        done = appointments.record(s, code, "cancel", "wangmin", NOW)
    assert (done.outcome, done.reminders_cancelled) == ("done", 1)
    row = _stored(kb, code)
    assert row.cancelled_at is not None and row.handled_by == "wangmin" and row.attendance is None
    assert sorted(_reminder_states(kb, sender)) == ["cancelled", "pending"]
    with session_scope() as s:
        assert appointments.upcoming_of(s, sender, NOW) == []  # gone from the customer's list
        # the customer, cancelling it afterwards, hears it is cancelled already; staff again: the same
        assert appointments.cancel(s, sender, code, NOW).outcome == "already"
        assert appointments.record(s, code, "arrived", "lizhuguan", NOW + dt.timedelta(days=2)).outcome == "cancelled"
    assert _stored(kb, code).handled_by == "wangmin"


async def test_staff_move_a_booking_for_the_customer_and_its_reminder_follows(
    book, kb, dispatcher, tracker_for, domain
):
    from knowledge import appointments

    sender = "web:staff-move"
    code = book(sender, 2, remind=True)  # Saturday 12-05, 15:00
    old, new = NOW + dt.timedelta(days=2), dt.datetime(2026, 12, 7, 10, 30)  # to Monday morning
    utc_now = reminders.to_utc(NOW)
    with session_scope() as s:
        done = appointments.move(s, code, new, "wangmin", NOW, utc_now)
    assert (done.outcome, done.reminders_cancelled) == ("done", 0)
    row = _stored(kb, code)
    assert (row.starts_at, row.moved_from, row.handled_by, row.cancelled_at) == (new, old, "wangmin", None)
    reminder = kb.scalar(select(m.Reminder).where(m.Reminder.conversation_id == sender))
    assert reminder.status == "pending" and reminders.to_local(reminder.event_at) == new
    assert reminder.remind_at == reminders.remind_time("appointment", new, utc_now)  # the day before, 09:00

    # the customer asking after their bookings hears the new time, and that the branch moved it
    dispatcher.messages.clear()
    await ActionListAppointments().run(
        dispatcher, tracker_for("我的预约", "list_appointments", sender_id=sender), domain
    )
    rows = dispatcher.messages[0]["rows"]
    assert code in rows and "12月7日" in rows and "网点已按您的要求改期，原定12月5日" in rows

    with session_scope() as s:  # times the booking form would refuse are refused here too
        assert appointments.move(s, code, NOW - dt.timedelta(hours=1), "wangmin", NOW).outcome == "time_past"
        far = dt.datetime.combine(NOW.date() + dt.timedelta(days=40), dt.time(10))
        assert appointments.move(s, code, far, "wangmin", NOW).outcome == "time_too_far"
        assert appointments.move(s, code, dt.datetime(2026, 12, 8, 3, 0), "wangmin", NOW).outcome == "branch_closed"
        assert appointments.move(s, code, new, "wangmin", NOW).outcome == "same_time"
        assert appointments.move(s, "YY261299ZZZZZZ", new, "wangmin", NOW).outcome == "unknown"
    assert _stored(kb, code).starts_at == new

    # moved to within the hour: no moment is left to remind, so the reminder is cancelled
    with session_scope() as s:
        done = appointments.move(s, code, NOW + dt.timedelta(minutes=30), "lizhuguan", NOW, utc_now)
    assert (done.outcome, done.reminders_cancelled) == ("done", 1)
    assert _reminder_states(kb, sender) == ["cancelled"]
    assert _stored(kb, code).moved_from == new  # the time it was moved from last
    other = book("web:staff-move-2", 3)
    with session_scope() as s:  # its time has come: nothing to move; cancelled: nothing either
        assert appointments.move(s, code, new, "wangmin", NOW + dt.timedelta(hours=1)).outcome == "past"
        assert appointments.record(s, code, "arrived", "wangmin", NOW + dt.timedelta(minutes=20)).outcome == "done"
        assert appointments.move(s, code, new, "wangmin", NOW + dt.timedelta(minutes=20)).outcome == "attended"
        assert appointments.cancel(s, "web:staff-move-2", other, NOW).outcome == "cancelled"
        assert appointments.move(s, other, new, "wangmin", NOW).outcome == "cancelled"


def test_staff_record_who_came_only_from_the_bookings_day_on(book, kb):
    from knowledge import appointments

    code = book("web:staff-attend", 1)  # tomorrow, 15:00
    when = NOW + dt.timedelta(days=1)
    with session_scope() as s:
        assert appointments.record(s, code, "arrived", "wangmin", NOW).outcome == "too_early"
        # on the day, before the time: the customer came early; a no-show only once the time has passed
        assert appointments.record(s, code, "no_show", "wangmin", when - dt.timedelta(hours=1)).outcome == "too_early"
        assert appointments.record(s, code, "arrived", "wangmin", when - dt.timedelta(minutes=10)).outcome == "done"
    assert (_stored(kb, code).attendance, _stored(kb, code).handled_by) == ("arrived", "wangmin")
    with session_scope() as s:  # a mistake is corrected by a later record
        assert appointments.record(s, code, "no_show", "lizhuguan", when + dt.timedelta(hours=1)).outcome == "done"
        # a booking whose time has gone is not cancelled: it was a no-show
        assert appointments.record(s, code, "cancel", "lizhuguan", when + dt.timedelta(hours=1)).outcome == "past"
    row = _stored(kb, code)
    assert (row.attendance, row.handled_by, row.cancelled_at) == ("no_show", "lizhuguan", None)
    with session_scope() as s:
        assert appointments.record(s, "YY261299ZZZZZZ", "arrived", "wangmin", NOW).outcome == "unknown"
        with pytest.raises(ValueError):
            appointments.record(s, code, "delete", "wangmin", NOW)
