"""Reminders the customer opted in to: before a branch appointment, before a product matures.

A reminder goes ``pending`` -> ``due`` (one scheduler claimed it) -> ``sent`` (the action that
delivers it marked it, under the conversation's lock); a delivery that failed puts it back to
``pending`` a little later, ``failed`` after :data:`MAX_ATTEMPTS`; the customer's opt-out makes
it ``cancelled``. Every change of state is one conditional ``UPDATE``, so two schedulers (two
desk processes, a cron run beside the desk) never both deliver one reminder, and rows live in the
knowledge base, so a restart of any process loses none.

Times are stored in UTC (naive, like every other time here); the customer speaks and hears
Beijing time (:data:`BANK_TZ`).
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from knowledge import models as m
from knowledge.db import rows_changed
from knowledge.handoffs import utcnow
from knowledge.queries import pseudonym

BANK_TZ = ZoneInfo("Asia/Shanghai")
KINDS = ("appointment", "maturity")
#: An appointment: the day before at 09:00, or two hours before when booked for sooner.
APPOINTMENT_DAY_BEFORE_AT = dt.time(9, 0)
APPOINTMENT_SOON = dt.timedelta(hours=2)
#: A maturity: three days before at 10:00, or the day before when that has passed.
MATURITY_DAYS_BEFORE = (3, 1)
MATURITY_AT = dt.time(10, 0)
#: At most this many reminders wait for one conversation.
MAX_PENDING = 5
#: Delivery attempts before a reminder is given up (``failed``), and the wait between them.
MAX_ATTEMPTS = 5
RETRY_AFTER = dt.timedelta(minutes=5)
#: A claim older than this belongs to a scheduler that died mid-delivery: the reminder waits again.
STALE_CLAIM = dt.timedelta(minutes=10)
WAITING = ("pending", "due")


def horizon_days() -> int:
    """How far ahead a reminder may be set: conversations idle for longer are deleted
    (``CONVERSATION_RETENTION_DAYS``), and with them the channel to deliver on."""
    try:
        return max(1, int(os.environ.get("CONVERSATION_RETENTION_DAYS", "180")))
    except ValueError:
        return 180


class ReminderRefused(ValueError):
    """A reminder that cannot be set; ``reason`` is ``past``, ``too_soon``, ``too_far`` or ``too_many``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_utc(local: dt.datetime) -> dt.datetime:
    """A naive Beijing time as naive UTC."""
    return local.replace(tzinfo=BANK_TZ).astimezone(dt.timezone.utc).replace(tzinfo=None)


def to_local(utc: dt.datetime) -> dt.datetime:
    """A naive UTC time as naive Beijing time."""
    return utc.replace(tzinfo=dt.timezone.utc).astimezone(BANK_TZ).replace(tzinfo=None)


def remind_time(kind: str, event_local: dt.datetime, now: dt.datetime | None = None) -> dt.datetime:
    """When to remind (UTC) of an event at ``event_local`` (Beijing; a maturity's day at 00:00).

    Raises :class:`ReminderRefused`: ``past`` when the event is not ahead, ``too_soon`` when
    every moment to remind has passed, ``too_far`` beyond :func:`horizon_days`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    now = now or utcnow()
    local_now = to_local(now)
    if kind == "appointment":
        if event_local <= local_now:
            raise ReminderRefused("past")
        day_before = dt.datetime.combine(event_local.date() - dt.timedelta(days=1), APPOINTMENT_DAY_BEFORE_AT)
        candidates = [day_before, event_local - APPOINTMENT_SOON]
    else:
        if event_local.date() <= local_now.date():
            raise ReminderRefused("past")
        candidates = [
            dt.datetime.combine(event_local.date() - dt.timedelta(days=days), MATURITY_AT)
            for days in MATURITY_DAYS_BEFORE
        ]
    if event_local.date() > local_now.date() + dt.timedelta(days=horizon_days()):
        raise ReminderRefused("too_far")
    ahead = [to_utc(c) for c in candidates if c > local_now]
    if not ahead:
        raise ReminderRefused("too_soon")
    return ahead[0]


def pending_of(session: Session, conversation_id: str) -> list[m.Reminder]:
    """The conversation's reminders not yet delivered nor cancelled, soonest first."""
    return list(
        session.scalars(
            select(m.Reminder)
            .where(m.Reminder.conversation_id == conversation_id, m.Reminder.status.in_(WAITING))
            .order_by(m.Reminder.remind_at, m.Reminder.id)
        )
    )


def add(
    session: Session,
    conversation_id: str,
    kind: str,
    subject: str,
    event_local: dt.datetime,
    now: dt.datetime | None = None,
) -> tuple[m.Reminder, bool]:
    """Set a reminder; returns (reminder, newly set). The same reminder asked twice is kept once.

    ``subject`` must be masked already (``banktext.redact``). Raises :class:`ReminderRefused`."""
    now = now or utcnow()
    remind_at = remind_time(kind, event_local, now)
    event_at = to_utc(event_local)
    waiting = pending_of(session, conversation_id)
    same = next((r for r in waiting if r.kind == kind and r.event_at == event_at and r.subject == subject), None)
    if same is not None:
        return same, False
    if len(waiting) >= MAX_PENDING:
        raise ReminderRefused("too_many")
    reminder = m.Reminder(
        conversation_id=conversation_id,
        kind=kind,
        subject=subject[:60],
        event_at=event_at,
        remind_at=remind_at,
        status="pending",
        attempts=0,
        created_at=now,
    )
    session.add(reminder)
    session.flush()
    return reminder, True


def cancel_all(session: Session, conversation_id: str) -> int:
    """The customer opts out: every reminder of the conversation still waiting is cancelled
    (one being delivered right now too: its delivery then finds nothing to send)."""
    return _cancel_waiting(session, m.Reminder.conversation_id == conversation_id)


def _cancel_waiting(session: Session, *conditions: ColumnElement[bool]) -> int:
    """Cancel the reminders still waiting that meet ``conditions``; how many were."""
    return rows_changed(
        session,
        update(m.Reminder).where(*conditions, m.Reminder.status.in_(WAITING)).values(status="cancelled"),
    )


def _waiting_for_event(session: Session, conversation_ref: str, kind: str, event_local: dt.datetime) -> list[int]:
    """The reminders still waiting for one event of the conversation named by its pseudonym
    (``queries.pseudonym``), as an appointment stores it."""
    waiting = session.execute(
        select(m.Reminder.id, m.Reminder.conversation_id).where(
            m.Reminder.kind == kind, m.Reminder.event_at == to_utc(event_local), m.Reminder.status.in_(WAITING)
        )
    ).all()
    return [rid for rid, conversation in waiting if pseudonym(conversation) == conversation_ref]


def cancel_for_event(session: Session, conversation_ref: str, kind: str, event_local: dt.datetime) -> int:
    """The event is off (an appointment cancelled by the customer or by branch staff): its
    reminders still waiting are cancelled, the conversation's other reminders kept."""
    ids = _waiting_for_event(session, conversation_ref, kind, event_local)
    return _cancel_waiting(session, m.Reminder.id.in_(ids)) if ids else 0


def move_for_event(
    session: Session,
    conversation_ref: str,
    kind: str,
    event_local: dt.datetime,
    new_local: dt.datetime,
    now: dt.datetime | None = None,
) -> int:
    """The event was moved (branch staff changed an appointment's time): its reminders still
    waiting now remind of the new time, at the moment :func:`remind_time` gives for it; one with no
    moment left to remind is cancelled. Returns how many were cancelled."""
    ids = _waiting_for_event(session, conversation_ref, kind, event_local)
    if not ids:
        return 0
    try:
        remind_at = remind_time(kind, new_local, now)
    except ReminderRefused:
        return _cancel_waiting(session, m.Reminder.id.in_(ids))
    rows_changed(
        session,
        update(m.Reminder)
        .where(m.Reminder.id.in_(ids), m.Reminder.status.in_(WAITING))
        .values(event_at=to_utc(new_local), remind_at=remind_at),
    )
    return 0


def due_ids(session: Session, now: dt.datetime | None = None, limit: int = 100) -> list[int]:
    """Reminders whose time has come, oldest first (not yet claimed)."""
    return list(
        session.scalars(
            select(m.Reminder.id)
            .where(m.Reminder.status == "pending", m.Reminder.remind_at <= (now or utcnow()))
            .order_by(m.Reminder.remind_at, m.Reminder.id)
            .limit(limit)
        )
    )


def _move(session: Session, reminder_id: int, was: str, **values: object) -> bool:
    """One reminder from status ``was`` to ``values`` (one conditional update); False when it had moved on."""
    changed = update(m.Reminder).where(m.Reminder.id == reminder_id, m.Reminder.status == was).values(**values)
    return rows_changed(session, changed) == 1


def claim(session: Session, reminder_id: int, now: dt.datetime | None = None) -> bool:
    """Take a pending reminder for delivery; False when another scheduler was first."""
    return _move(session, reminder_id, "pending", status="due", claimed_at=now or utcnow())


def claim_due(session: Session, now: dt.datetime | None = None, limit: int = 100) -> list[tuple[int, str]]:
    """Claim every reminder whose time has come; returns (id, conversation_id) of those this caller won."""
    now = now or utcnow()
    won = [i for i in due_ids(session, now, limit) if claim(session, i, now)]
    if not won:
        return []
    rows = session.execute(select(m.Reminder.id, m.Reminder.conversation_id).where(m.Reminder.id.in_(won))).all()
    return [(row.id, row.conversation_id) for row in rows]


def requeue_stale(session: Session, now: dt.datetime | None = None) -> int:
    """Claims left by a scheduler that stopped mid-delivery wait again (and count as an attempt)."""
    now = now or utcnow()
    done = rows_changed(
        session,
        update(m.Reminder)
        .where(m.Reminder.status == "due", m.Reminder.claimed_at < now - STALE_CLAIM)
        .values(status="pending", attempts=m.Reminder.attempts + 1, claimed_at=None),
    )
    return done


def due_of(session: Session, conversation_id: str) -> list[m.Reminder]:
    """The conversation's claimed reminders, to deliver now."""
    return list(
        session.scalars(
            select(m.Reminder)
            .where(m.Reminder.conversation_id == conversation_id, m.Reminder.status == "due")
            .order_by(m.Reminder.remind_at, m.Reminder.id)
        )
    )


def mark_sent(session: Session, reminder_id: int, now: dt.datetime | None = None) -> bool:
    """The reminder is being said to the customer; False when it was cancelled or sent meanwhile."""
    return _move(session, reminder_id, "due", status="sent", sent_at=now or utcnow())


def release(session: Session, reminder_id: int, now: dt.datetime | None = None) -> str | None:
    """A claimed reminder that was not delivered waits again (``pending``, retried after
    :data:`RETRY_AFTER` × attempts) or, after :data:`MAX_ATTEMPTS`, is given up (``failed``).
    Returns the new status, or None when it was no longer claimed (sent or cancelled)."""
    now = now or utcnow()
    before = session.scalar(select(m.Reminder.attempts).where(m.Reminder.id == reminder_id))  # as stored now
    if before is None:
        return None
    attempts = before + 1
    status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
    done = rows_changed(
        session,
        update(m.Reminder)
        .where(m.Reminder.id == reminder_id, m.Reminder.status == "due", m.Reminder.attempts == before)
        .values(status=status, attempts=attempts, claimed_at=None, remind_at=now + RETRY_AFTER * attempts),
    )
    return status if done == 1 else None


def counts(session: Session, conversation_id: str | None = None) -> dict[str, int]:
    """Reminders by status (of one conversation, or all), for staff and the CLI."""
    query = select(m.Reminder.status, func.count()).group_by(m.Reminder.status)
    if conversation_id is not None:
        query = query.where(m.Reminder.conversation_id == conversation_id)
    return {status: int(n) for status, n in session.execute(query).all()}
