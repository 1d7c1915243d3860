"""Reminders in the knowledge base: when they fall due (Beijing time), claimed once by two
schedulers, cancelled, retried, and still there for a new engine after a restart."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm import sessionmaker

from knowledge import models as m
from knowledge import reminders as r
from knowledge.db import create_schema

#: 2027-01-01 12:00 UTC is 20:00 in Beijing.
NOW = dt.datetime(2027, 1, 1, 12, 0)


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    create_schema(url)
    return url


@pytest.fixture
def sessions(url):
    """A session factory on its own engine, as a separate process would have."""
    engine = create_engine(url)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def test_an_appointment_is_reminded_the_day_before_at_nine_beijing_time():
    when = dt.datetime(2027, 1, 10, 14, 30)  # Beijing
    assert r.remind_time("appointment", when, NOW) == dt.datetime(2027, 1, 9, 1, 0)  # 09:00 Beijing


def test_an_appointment_booked_for_sooner_is_reminded_two_hours_before():
    # 20:00 Beijing on 1 January; the appointment at 10:00 tomorrow: 09:00 today has passed
    assert r.remind_time("appointment", dt.datetime(2027, 1, 2, 10, 0), NOW) == dt.datetime(2027, 1, 2, 0, 0)


@pytest.mark.parametrize(
    "kind,when,reason",
    [
        ("appointment", dt.datetime(2027, 1, 1, 19, 0), "past"),  # an hour ago in Beijing
        ("appointment", dt.datetime(2027, 1, 1, 21, 30), "too_soon"),  # in 90 minutes
        ("maturity", dt.datetime(2027, 1, 1), "past"),  # today in Beijing
        ("maturity", dt.datetime(2027, 1, 2), "too_soon"),  # tomorrow: 10:00 today has passed
        ("maturity", dt.datetime(2028, 6, 1), "too_far"),
    ],
)
def test_refused_reminders(kind, when, reason):
    with pytest.raises(r.ReminderRefused) as refused:
        r.remind_time(kind, when, NOW)
    assert refused.value.reason == reason


def test_a_maturity_is_reminded_three_days_before_or_the_day_before():
    assert r.remind_time("maturity", dt.datetime(2027, 3, 1), NOW) == dt.datetime(2027, 2, 26, 2, 0)  # 10:00 Beijing
    # on 3 January (Beijing) a maturity on the 5th: the 2nd has passed, the 4th has not
    assert r.remind_time("maturity", dt.datetime(2027, 1, 5), dt.datetime(2027, 1, 3, 1, 0)) == dt.datetime(
        2027, 1, 4, 2, 0
    )


def test_today_is_a_beijing_day():
    # 17:00 UTC on 28 February is 01:00 on 1 March in Beijing: a maturity on 1 March is today
    with pytest.raises(r.ReminderRefused):
        r.remind_time("maturity", dt.datetime(2027, 3, 1), dt.datetime(2027, 2, 28, 17, 0))


def test_the_same_reminder_is_kept_once_and_a_conversation_has_a_few_at_most(sessions):
    with sessions() as s:
        first, new = r.add(s, "c1", "maturity", "三年定期", dt.datetime(2027, 3, 1), NOW)
        again, new_again = r.add(s, "c1", "maturity", "三年定期", dt.datetime(2027, 3, 1), NOW)
        assert (new, new_again, again.id) == (True, False, first.id)
        for day in range(2, 2 + r.MAX_PENDING - 1):
            r.add(s, "c1", "maturity", "三年定期", dt.datetime(2027, 3, day), NOW)
        with pytest.raises(r.ReminderRefused) as refused:
            r.add(s, "c1", "maturity", "大额存单", dt.datetime(2027, 4, 1), NOW)
        assert refused.value.reason == "too_many"
        r.add(s, "c2", "maturity", "大额存单", dt.datetime(2027, 4, 1), NOW)  # another conversation's own
        s.commit()
        assert len(r.pending_of(s, "c1")) == r.MAX_PENDING


def test_two_schedulers_claim_a_reminder_once(url):
    one, two = create_engine(url), create_engine(url)
    first, second = sessionmaker(bind=one)(), sessionmaker(bind=two)()
    try:
        reminder, _ = r.add(first, "c1", "appointment", "国贸支行", dt.datetime(2027, 1, 10, 14, 30), NOW)
        first.commit()
        later = dt.datetime(2027, 1, 9, 1, 0)
        assert r.due_ids(first, NOW) == []  # not yet
        # both see it due; the first to claim wins, the other's claim changes nothing
        assert r.due_ids(first, later) == r.due_ids(second, later) == [reminder.id]
        second.rollback()
        assert r.claim(first, reminder.id, later)
        first.commit()
        assert not r.claim(second, reminder.id, later)
        assert r.claim_due(second, later) == []
        second.commit()
        assert first.scalar(select(m.Reminder.status).where(m.Reminder.id == reminder.id)) == "due"
    finally:
        first.close(), second.close(), one.dispose(), two.dispose()


def test_delivery_marks_sent_once_and_a_cancelled_reminder_is_not_said(sessions):
    later = dt.datetime(2027, 3, 1)
    with sessions() as s:
        kept, _ = r.add(s, "c1", "maturity", "三年定期", dt.datetime(2027, 2, 1), NOW)
        dropped, _ = r.add(s, "c2", "maturity", "大额存单", dt.datetime(2027, 2, 1), NOW)
        s.commit()
        assert sorted(r.claim_due(s, later)) == sorted([(kept.id, "c1"), (dropped.id, "c2")])
        s.commit()
        assert r.cancel_all(s, "c2") == 1  # the customer opts out while it is being delivered
        assert [x.id for x in r.due_of(s, "c1")] == [kept.id] and r.due_of(s, "c2") == []
        assert r.mark_sent(s, kept.id, later) and not r.mark_sent(s, kept.id, later)
        assert not r.mark_sent(s, dropped.id, later)
        assert r.release(s, kept.id, later) is None  # sent: nothing to put back
        s.commit()
        assert r.counts(s) == {"sent": 1, "cancelled": 1}


def test_an_undelivered_reminder_waits_again_then_fails(sessions):
    with sessions() as s:
        row, _ = r.add(s, "c1", "maturity", "三年定期", dt.datetime(2027, 2, 1), NOW)
        s.commit()
        at = dt.datetime(2027, 2, 1)
        statuses = []
        for _ in range(r.MAX_ATTEMPTS):
            assert r.claim_due(s, at) == [(row.id, "c1")]
            statuses.append(r.release(s, row.id, at))
            s.commit()
            assert r.claim_due(s, at) == []  # not before its retry time
            s.expire_all()
            at = s.get(m.Reminder, row.id).remind_at
        assert statuses == ["pending"] * (r.MAX_ATTEMPTS - 1) + ["failed"]
        assert s.get(m.Reminder, row.id).attempts == r.MAX_ATTEMPTS


def test_a_claim_left_by_a_dead_scheduler_waits_again(sessions):
    with sessions() as s:
        row, _ = r.add(s, "c1", "maturity", "三年定期", dt.datetime(2027, 2, 1), NOW)
        at = dt.datetime(2027, 2, 1)
        r.claim_due(s, at)
        s.commit()
        assert r.requeue_stale(s, at + dt.timedelta(minutes=1)) == 0
        assert r.requeue_stale(s, at + r.STALE_CLAIM + dt.timedelta(minutes=1)) == 1
        s.commit()
        assert r.claim_due(s, at + r.STALE_CLAIM + dt.timedelta(minutes=1)) == [(row.id, "c1")]


def test_reminders_survive_a_restart(url):
    """Written through one engine (a process), found due and delivered through a new one."""
    before = create_engine(url)
    with sessionmaker(bind=before)() as s:
        row, _ = r.add(s, "c1", "appointment", "国贸支行", dt.datetime(2027, 1, 10, 14, 30), NOW)
        s.commit()
        row_id = row.id
    before.dispose()
    after = create_engine(url)
    with sessionmaker(bind=after)() as s:
        assert r.claim_due(s, dt.datetime(2027, 1, 9, 1, 0)) == [(row_id, "c1")]
        assert r.mark_sent(s, row_id)
        s.commit()
    after.dispose()


def test_an_older_database_gains_the_reminder_table(url):
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE reminder"))
    assert "reminder" not in inspect(engine).get_table_names()
    create_schema(url)
    assert "reminder" in inspect(create_engine(url)).get_table_names()
    with sessionmaker(bind=engine)() as s:
        assert s.scalar(select(m.Handoff).limit(1)) is None  # the other tables are untouched
