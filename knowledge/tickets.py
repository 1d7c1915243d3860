"""Complaints followed as tickets: open -> in_progress -> resolved.

The customer asks for a ticket by its code (``TS`` + date + six characters) from the
conversation that filed it and hears its status and what staff wrote; from another conversation
only that the ticket exists. Staff change the status in the desk console or with
``python -m desk tickets``.

A call-back number given with a complaint is kept sealed (:class:`knowledge.models.CallbackNumber`),
found again by the ticket's conversation and masked contact, and opened in the console only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, delete, exists, select
from sqlalchemy.orm import Session

from knowledge import models as m
from knowledge.db import rows_changed
from knowledge.handoffs import utcnow
from knowledge.queries import TICKET_CODE, booking_codes_in, pseudonym

STATUSES = {"open": "待处理", "in_progress": "处理中", "resolved": "已办结"}


def codes_in(text: str) -> list[str]:
    """The ticket codes a message names, normalised ("ts 261203-a1b2c3" -> "TS261203A1B2C3")."""
    return booking_codes_in(text, TICKET_CODE)


def ticket(session: Session, code: str) -> m.Complaint | None:
    return session.scalar(select(m.Complaint).where(m.Complaint.code == code))


def tickets_of(session: Session, conversation_ref: str, limit: int = 5) -> list[m.Complaint]:
    """The conversation's own tickets, newest first."""
    return list(
        session.scalars(
            select(m.Complaint)
            .where(m.Complaint.conversation_ref == conversation_ref)
            .order_by(m.Complaint.created_at.desc(), m.Complaint.id.desc())
            .limit(limit)
        )
    )


def listing(session: Session, status: str | None = None, limit: int = 200) -> list[m.Complaint]:
    """Tickets for staff, the unresolved first, oldest first within a status."""
    query = select(m.Complaint)
    if status:
        query = query.where(m.Complaint.status == status)
    order = {"open": 0, "in_progress": 1, "resolved": 2}
    rows = list(session.scalars(query.order_by(m.Complaint.created_at).limit(limit * 3)))
    return sorted(rows, key=lambda t: order.get(t.status or "open", 0))[:limit]


def set_status(session: Session, code: str, status: str, staff_reply: str | None = None) -> m.Complaint:
    """Change a ticket's status (and what staff tell the customer); raises ValueError on a bad
    status and LookupError on an unknown code."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    row = ticket(session, code)
    if row is None:
        raise LookupError(code)
    row.status, row.updated_at = status, utcnow()
    if staff_reply is not None:
        row.staff_reply = staff_reply.strip()[:2000] or None
    return row


#: A sealed number no ticket took within this time is deleted.
UNCLAIMED_CALLBACK_HOURS = 24


def keep_callback_number(session: Session, conversation_id: str, masked: str, sealed: str) -> m.CallbackNumber:
    """Store a sealed call-back number under the conversation's pseudonym and its masked form."""
    row = m.CallbackNumber(conversation_ref=pseudonym(conversation_id), masked=masked[:60], sealed=sealed)
    session.add(row)
    return row


def sealed_callback_numbers(session: Session, complaints: list[m.Complaint]) -> dict[str, str]:
    """The sealed number behind each ticket's masked contact (the latest one given), by ticket code,
    in one query for a page of tickets."""
    wanted = {(t.conversation_ref, t.contact): t.code for t in complaints if t.contact}
    if not wanted:
        return {}
    rows = session.execute(
        select(m.CallbackNumber.conversation_ref, m.CallbackNumber.masked, m.CallbackNumber.sealed)
        .where(m.CallbackNumber.conversation_ref.in_({ref for ref, _ in wanted}))
        .order_by(m.CallbackNumber.created_at, m.CallbackNumber.id)
    )
    found: dict[str, str] = {}
    for ref, masked, sealed in rows:  # oldest first: the latest one given wins
        code = wanted.get((ref, masked))
        if code:
            found[code] = sealed
    return found


def purge_callback_numbers(session: Session, retention_days: int, now: dt.datetime | None = None) -> int:
    """Delete sealed numbers older than the retention, and those no ticket took within a day."""
    now = now or utcnow()
    taken = exists().where(
        and_(
            m.Complaint.conversation_ref == m.CallbackNumber.conversation_ref,
            m.Complaint.contact == m.CallbackNumber.masked,
        )
    )
    old = m.CallbackNumber.created_at < now - dt.timedelta(days=retention_days)
    unclaimed = and_(m.CallbackNumber.created_at < now - dt.timedelta(hours=UNCLAIMED_CALLBACK_HOURS), ~taken)
    return rows_changed(session, delete(m.CallbackNumber).where(old | unclaimed))


def purge_expired_callback_numbers(url: str | None = None) -> int:
    """:func:`purge_callback_numbers` on the configured knowledge base with the configured retention
    (the tables a newer release added are created first); run at every start of the action server
    and by ``make purge``."""
    from knowledge.config import retention_days
    from knowledge.db import create_schema, session_scope

    create_schema(url)
    with session_scope(url) as s:
        return purge_callback_numbers(s, retention_days())
