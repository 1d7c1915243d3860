"""Branch appointments the customer booked through the assistant: found again and cancelled, and
listed for branch staff by day and branch (the desk's 网点预约 page), where staff record who came
(arrived, no-show), and cancel or move a booking for a customer who asks them to.

An appointment belongs to the conversation that booked it (its pseudonym, never the channel's
user id). The customer cancels one by its code (``YY`` + date + six characters) or, when they do
not name it, one of their own still ahead; a cancelled appointment keeps its row with the time it
was cancelled, and the reminder set for it (``knowledge.reminders``) is cancelled with it.
Appointment times are Beijing time, as booked; ``cancelled_at`` is UTC like every stored time.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from knowledge import models as m
from knowledge import reminders
from knowledge.db import rows_changed
from knowledge.handoffs import utcnow
from knowledge.queries import APPOINTMENT_CODE, booking_codes_in, get_branch, pseudonym

#: At most this many of a conversation's appointments are offered for cancelling.
LISTED = 5
#: At most this many rows on the staff's page of a branch's appointments.
STAFF_ROWS = 500
#: How many days ahead a booking can be made (the booking form) or moved to (branch staff).
BOOKING_DAYS_AHEAD = 30


def appointment_codes_in(text: str) -> list[str]:
    """The appointment codes a message names, normalised ("yy 261205-a1b2c3" -> "YY261205A1B2C3")."""
    return booking_codes_in(text, APPOINTMENT_CODE)


def upcoming_of(session: Session, conversation_id: str, now_local: dt.datetime) -> list[m.Appointment]:
    """The conversation's appointments still ahead and not cancelled, soonest first."""
    return list(
        session.scalars(
            select(m.Appointment)
            .where(
                m.Appointment.conversation_ref == pseudonym(conversation_id),
                m.Appointment.cancelled_at.is_(None),
                m.Appointment.starts_at > now_local,
            )
            .order_by(m.Appointment.starts_at, m.Appointment.id)
            .limit(LISTED)
        )
    )


class Cancelled(NamedTuple):
    """What cancelling an appointment did: ``outcome`` is ``cancelled``, ``already`` (cancelled
    before), ``past`` (its time has gone), ``not_yours`` (booked in another conversation: nothing is
    said about it) or ``unknown`` (no such code)."""

    outcome: str
    appointment: m.Appointment | None = None
    reminders_cancelled: int = 0


def _by_code(session: Session, code: str) -> m.Appointment | None:
    return session.scalar(select(m.Appointment).where(m.Appointment.code == code))


def cancel(
    session: Session, conversation_id: str, code: str, now_local: dt.datetime, now: dt.datetime | None = None
) -> Cancelled:
    """Cancel the conversation's appointment ``code`` and the reminder set for it."""
    found = _by_code(session, code)
    if found is None:
        return Cancelled("unknown")
    if found.conversation_ref != pseudonym(conversation_id):
        return Cancelled("not_yours")
    if found.cancelled_at is not None:
        return Cancelled("already", found)
    if found.starts_at <= now_local:
        return Cancelled("past", found)
    dropped = _cancel(session, found, now or utcnow())
    if dropped is None:  # cancelled a moment ago, from another window of the same conversation
        return Cancelled("already", found)
    return Cancelled("cancelled", found, dropped)


def _cancel(session: Session, found: m.Appointment, now: dt.datetime, staff: str | None = None) -> int | None:
    """Mark the appointment cancelled (one conditional update) and cancel its reminders still
    waiting; how many were, or None when it had been cancelled already."""
    changed = rows_changed(
        session,
        update(m.Appointment)
        .where(m.Appointment.id == found.id, m.Appointment.cancelled_at.is_(None))
        .values(cancelled_at=now, handled_by=staff[:64] if staff else None),
    )
    if not changed:
        return None
    return reminders.cancel_for_event(session, found.conversation_ref, "appointment", found.starts_at)


#: What branch staff record about a booking: the customer came, did not come, or asked (at the
#: counter or on the phone) for it to be cancelled.
STAFF_ACTIONS = ("arrived", "no_show", "cancel")


class Recorded(NamedTuple):
    """What a member of staff's action did: ``outcome`` is ``done``, ``unknown`` (no such code),
    ``cancelled`` (the booking was cancelled before: nothing more to record), ``past`` (a booking
    whose time has gone is not cancelled: record a no-show), ``too_early`` (attendance is recorded
    from the booking's day on, a no-show only once its time has passed); for :func:`move` also
    ``changed`` (moved by someone else a moment ago), ``attended`` (the customer came already),
    ``same_time``, or why the new time cannot be booked: ``time_past``, ``time_too_far`` (beyond
    :data:`BOOKING_DAYS_AHEAD`), ``branch_closed`` (outside the branch's opening hours)."""

    outcome: str
    appointment: m.Appointment | None = None
    reminders_cancelled: int = 0


def record(
    session: Session, code: str, action: str, staff: str, now_local: dt.datetime, now: dt.datetime | None = None
) -> Recorded:
    """Branch staff record ``action`` (one of :data:`STAFF_ACTIONS`) for the booking ``code``.

    Attendance can be corrected (arrived <-> no-show) by a later record. Cancelling for the
    customer cancels the booking's reminder too, as the customer's own cancelling does."""
    if action not in STAFF_ACTIONS:
        raise ValueError(action)
    found = _by_code(session, code)
    if found is None:
        return Recorded("unknown")
    if found.cancelled_at is not None:
        return Recorded("cancelled", found)
    now = now or utcnow()
    if action == "cancel":
        if found.starts_at <= now_local:
            return Recorded("past", found)
        dropped = _cancel(session, found, now, staff)
        if dropped is None:  # the customer cancelled it a moment ago
            return Recorded("cancelled", found)
        return Recorded("done", found, dropped)
    if now_local.date() < found.starts_at.date() or (action == "no_show" and now_local < found.starts_at):
        return Recorded("too_early", found)
    session.execute(
        update(m.Appointment)
        .where(m.Appointment.id == found.id)
        .values(attendance=action, attendance_at=now, handled_by=staff[:64])
    )
    return Recorded("done", found)


def move(
    session: Session,
    code: str,
    new_start: dt.datetime,
    staff: str,
    now_local: dt.datetime,
    now: dt.datetime | None = None,
) -> Recorded:
    """Branch staff move the booking ``code`` to ``new_start`` (Beijing) for a customer who asked at
    the counter or on the phone. The new time is held to what the booking form allows: ahead, at
    most :data:`BOOKING_DAYS_AHEAD` days away, while the branch is open. The booking keeps its
    code, branch and business; its former time is kept (``moved_from``); a reminder waiting for it
    reminds of the new time instead (``reminders.move_for_event``)."""
    found = _by_code(session, code)
    if found is None:
        return Recorded("unknown")
    if found.cancelled_at is not None:
        return Recorded("cancelled", found)
    if found.attendance == "arrived":
        return Recorded("attended", found)
    if found.starts_at <= now_local:
        return Recorded("past", found)
    new_start = new_start.replace(second=0, microsecond=0, tzinfo=None)
    if new_start == found.starts_at:
        return Recorded("same_time", found)
    if new_start <= now_local:
        return Recorded("time_past", found)
    if new_start.date() > now_local.date() + dt.timedelta(days=BOOKING_DAYS_AHEAD):
        return Recorded("time_too_far", found)
    branch = get_branch(session, found.branch_code)
    if branch is not None and not branch.is_open_at(new_start):
        return Recorded("branch_closed", found)
    old = found.starts_at
    changed = rows_changed(
        session,
        update(m.Appointment)
        .where(m.Appointment.id == found.id, m.Appointment.cancelled_at.is_(None), m.Appointment.starts_at == old)
        .values(starts_at=new_start, moved_from=old, handled_by=staff[:64]),
    )
    if not changed:  # cancelled or moved a moment ago, by the customer or a colleague
        session.refresh(found)
        return Recorded("cancelled" if found.cancelled_at is not None else "changed", found)
    dropped = reminders.move_for_event(session, found.conversation_ref, "appointment", old, new_start, now or utcnow())
    return Recorded("done", found, dropped)


def for_branches(
    session: Session, first_day: dt.date, last_day: dt.date, branch_code: str | None = None
) -> list[tuple[m.Appointment, str]]:
    """The appointments between two days (both included), cancelled ones too, by time, with each
    branch's name: what branch staff prepare for. Of one branch when ``branch_code`` is given."""
    stmt = (
        select(m.Appointment, m.Branch.name)
        .join(m.Branch, m.Branch.code == m.Appointment.branch_code, isouter=True)
        .where(
            m.Appointment.starts_at >= dt.datetime.combine(first_day, dt.time()),
            m.Appointment.starts_at < dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time()),
        )
        .order_by(m.Appointment.starts_at, m.Appointment.id)
        .limit(STAFF_ROWS)
    )
    if branch_code:
        stmt = stmt.where(m.Appointment.branch_code == branch_code)
    return [(row, name or row.branch_code) for row, name in session.execute(stmt)]
