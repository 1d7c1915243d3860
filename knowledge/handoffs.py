"""The staff desk's queue: handing a conversation to a person and back, in the database.

A handoff goes ``waiting`` (queued for a department) -> ``with_agent`` (a person holds the
conversation; the bot is paused) -> ``resolved`` (back to the bot). A customer may cancel
while waiting (``cancelled``); outside the desk's hours, or when the wait would be too long,
the customer may leave a ``message`` instead, which staff answer later on the same channel.

The action server opens and cancels handoffs and records ratings; the desk service
(:mod:`desk`) takes, transfers and resolves them. Every change of state is one conditional
``UPDATE`` so that two agents, two servers or a retry never both win.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from banktext import redact
from knowledge import models as m
from knowledge.db import rows_changed

#: The bank's clock: opening hours in desk.yml are Beijing time.
BANK_TZ = ZoneInfo("Asia/Shanghai")
OPEN_STATES = ("waiting", "with_agent")
#: Why a conversation reached a person, as staff read it.
REASONS = {
    "customer_asked": "客户要求转人工",
    "asked_repeatedly": "客户多次要求转人工",
    "not_understood": "助手连续两次没有听懂",
    "complaint": "客户投诉，要求人工处理",
    "fraud": "疑似诈骗或盗刷，紧急处置后转人工",
    "specialist": "问题需要专业人员结合具体情况处理",
    "transferred": "由其他部门转来",
}
#: Queue priorities: elderly customers first, then customers who asked more than once.
PRIORITY_ELDERLY, PRIORITY_REPEATED, PRIORITY_NORMAL = 2, 1, 0
#: A rating's comment is kept to this many characters.
COMMENT_CHARS = 500
#: Handling times averaged for the wait estimate (the most recent ones).
RECENT_HANDOFFS = 20


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Desk:
    """The desk's settings and departments as read once per request."""

    opens: str
    closes: str
    weekdays: tuple[int, ...]
    max_wait_minutes: int
    default_handle_minutes: int
    departments: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...]
    specialist_topics: frozenset[str] = frozenset()

    def is_open(self, now: dt.datetime | None = None) -> bool:
        """Whether people are at the desk at ``now`` (a UTC time; default: now)."""
        local = (now or utcnow()).replace(tzinfo=dt.timezone.utc).astimezone(BANK_TZ)
        hhmm = f"{local:%H:%M}"
        return local.isoweekday() in self.weekdays and self.opens <= hhmm < self.closes

    @property
    def hours(self) -> str:
        return f"{self.opens}-{self.closes}"

    def department_name(self, code: str) -> str:
        return next((name for c, name, *_ in self.departments if c == code), code)

    def route(self, intent: str | None, product_type: str | None, segment: str | None) -> str:
        """The department for a handoff: by the intent that led to it, else the product type
        discussed, else the customer's segment, else the first department."""
        for index, value in ((3, intent), (2, product_type), (4, segment)):
            if value:
                for department in self.departments:
                    if value in department[index]:
                        return department[0]
        return self.departments[0][0]


def desk(session: Session) -> Desk | None:
    """The desk as configured in the knowledge base, or None when it has no departments."""
    setting = session.scalar(select(m.DeskSetting).where(m.DeskSetting.code == "desk"))
    rows = session.scalars(select(m.DeskDepartment).order_by(m.DeskDepartment.position)).all()
    if setting is None or not rows:
        return None
    return Desk(
        opens=setting.opens,
        closes=setting.closes,
        weekdays=tuple(setting.weekdays or range(1, 8)),
        max_wait_minutes=setting.max_wait_minutes,
        default_handle_minutes=setting.default_handle_minutes,
        departments=tuple(
            (r.code, r.name, tuple(r.product_types or ()), tuple(r.intents or ()), tuple(r.segments or ()))
            for r in rows
        ),
        specialist_topics=frozenset(setting.specialist_topics or ()),
    )


def open_handoff_of(session: Session, conversation_id: str) -> m.Handoff | None:
    """The conversation's handoff that is waiting or with a person, if any."""
    return session.scalar(
        select(m.Handoff)
        .where(m.Handoff.conversation_id == conversation_id, m.Handoff.state.in_(OPEN_STATES))
        .order_by(m.Handoff.id.desc())
        .limit(1)
    )


def latest_handoff_of(session: Session, conversation_id: str) -> m.Handoff | None:
    return session.scalar(
        select(m.Handoff).where(m.Handoff.conversation_id == conversation_id).order_by(m.Handoff.id.desc()).limit(1)
    )


def open_handoff(
    session: Session,
    conversation_id: str,
    *,
    channel: str,
    department: str,
    reason: str,
    priority: int,
    summary: dict[str, Any],
    state: str = "waiting",
) -> tuple[m.Handoff, bool]:
    """Queue the conversation (or leave it as a message); returns (handoff, newly opened).

    A conversation already waiting or with a person keeps its handoff: asking again raises
    its priority (``asked_repeatedly``) instead of queueing it twice."""
    current = open_handoff_of(session, conversation_id)
    if current is not None:
        if current.state == "waiting" and priority > current.priority:
            current.priority = priority
            current.reason = reason if reason != "customer_asked" else current.reason
        return current, False
    handoff = m.Handoff(
        code=f"RG{dt.date.today():%y%m%d}{secrets.token_hex(3).upper()}",
        conversation_id=conversation_id,
        channel=channel[:20] or "web",
        state=state,
        department=department,
        reason=reason,
        priority=priority,
        summary=summary,
    )
    session.add(handoff)
    session.flush()
    return handoff, True


def waiting(session: Session, departments: Iterable[str] | None = None) -> list[m.Handoff]:
    """Handoffs waiting for a person, in the order they are served (priority, then arrival)."""
    query = select(m.Handoff).where(m.Handoff.state == "waiting")
    if departments is not None:
        query = query.where(m.Handoff.department.in_(list(departments)))
    return list(session.scalars(query.order_by(m.Handoff.priority.desc(), m.Handoff.created_at, m.Handoff.id)))


def position(session: Session, handoff: m.Handoff) -> int:
    """1 for the next to be served in its department."""
    ahead = session.scalar(
        select(func.count())
        .select_from(m.Handoff)
        .where(
            m.Handoff.state == "waiting",
            m.Handoff.department == handoff.department,
            m.Handoff.id != handoff.id,
            (m.Handoff.priority > handoff.priority)
            | ((m.Handoff.priority == handoff.priority) & (m.Handoff.created_at <= handoff.created_at)),
        )
    )
    return int(ahead or 0) + 1


def average_handle_minutes(session: Session, default: int) -> float:
    """Mean minutes from taking to resolving over the most recent handoffs (``default`` without any)."""
    rows = session.execute(
        select(m.Handoff.taken_at, m.Handoff.resolved_at)
        .where(m.Handoff.state == "resolved", m.Handoff.taken_at.is_not(None), m.Handoff.resolved_at.is_not(None))
        .order_by(m.Handoff.resolved_at.desc())
        .limit(RECENT_HANDOFFS)
    ).all()
    spans = [(resolved - taken).total_seconds() / 60 for taken, resolved in rows if resolved >= taken]
    return sum(spans) / len(spans) if spans else float(default)


def agents_online(session: Session, department: str) -> int:
    agents = session.scalars(
        select(m.StaffUser).where(m.StaffUser.role == "agent", m.StaffUser.online.is_(True), m.StaffUser.active)
    )
    return sum(1 for a in agents if not a.departments or department in a.departments)


def estimated_wait_minutes(session: Session, handoff: m.Handoff, settings: Desk) -> int:
    """Minutes until a person answers: the customers ahead times the recent handling time,
    shared by the agents online for the department (one when none is online yet); at least one."""
    ahead = position(session, handoff) - 1
    minutes = ahead * average_handle_minutes(session, settings.default_handle_minutes)
    return max(1, round(minutes / max(1, agents_online(session, handoff.department))))


def cancel(session: Session, conversation_id: str) -> m.Handoff | None:
    """The customer withdraws a waiting handoff; returns it, or None when none was waiting."""
    handoff = open_handoff_of(session, conversation_id)
    if handoff is None or handoff.state != "waiting":
        return None
    done = rows_changed(
        session,
        update(m.Handoff)
        .where(m.Handoff.id == handoff.id, m.Handoff.state == "waiting")
        .values(state="cancelled", resolved_at=utcnow()),
    )
    session.refresh(handoff)
    return handoff if done == 1 else None


def take(session: Session, handoff_id: int, agent: str) -> bool:
    """``agent`` takes a waiting handoff (or a message); False when someone else was first."""
    done = rows_changed(
        session,
        update(m.Handoff)
        .where(m.Handoff.id == handoff_id, m.Handoff.state.in_(("waiting", "message")))
        .values(state="with_agent", agent=agent, taken_at=utcnow()),
    )
    return done == 1


def give_back(session: Session, handoff_id: int, agent: str, state: str = "waiting") -> bool:
    """Undo a take whose customer could not be reached (the conversation waits again)."""
    done = rows_changed(
        session,
        update(m.Handoff)
        .where(m.Handoff.id == handoff_id, m.Handoff.state == "with_agent", m.Handoff.agent == agent)
        .values(state=state, agent=None, taken_at=None),
    )
    return done == 1


def transfer(session: Session, handoff_id: int, agent: str, department: str) -> bool:
    """The agent holding a handoff passes it to another department's queue (the bot stays paused)."""
    done = rows_changed(
        session,
        update(m.Handoff)
        .where(m.Handoff.id == handoff_id, m.Handoff.state == "with_agent", m.Handoff.agent == agent)
        .values(state="waiting", agent=None, department=department, reason="transferred", taken_at=None),
    )
    return done == 1


def resolve(session: Session, handoff_id: int, agent: str) -> bool:
    done = rows_changed(
        session,
        update(m.Handoff)
        .where(m.Handoff.id == handoff_id, m.Handoff.state == "with_agent", m.Handoff.agent == agent)
        .values(state="resolved", resolved_at=utcnow()),
    )
    return done == 1


def answered(session: Session, handoff_id: int) -> None:
    """Remember the first reply of a person (first-response time)."""
    rows_changed(
        session,
        update(m.Handoff)
        .where(m.Handoff.id == handoff_id, m.Handoff.first_response_at.is_(None))
        .values(first_response_at=utcnow()),
    )


def rate(session: Session, conversation_id: str, conversation_ref: str, score: int) -> m.SatisfactionRating:
    """Store a 1-5 rating; it counts for the person who resolved the conversation's latest handoff."""
    if not 1 <= score <= 5:
        raise ValueError("a rating is 1 to 5")
    handoff = latest_handoff_of(session, conversation_id)
    served = handoff if handoff is not None and handoff.state == "resolved" else None
    rating = m.SatisfactionRating(
        conversation_ref=conversation_ref,
        score=score,
        handoff_id=served.id if served else None,
        agent=served.agent if served else None,
    )
    session.add(rating)
    return rating


def add_comment(session: Session, conversation_ref: str, text: str) -> m.SatisfactionRating | None:
    """Keep what the customer added after rating on the conversation's latest rating, masked
    (card, ID and phone numbers) and cut to ``COMMENT_CHARS``; a rating keeps its first comment.

    Returns the rating commented on, or None when the conversation has no rating without one."""
    comment = redact(text or "").strip()[:COMMENT_CHARS]
    if not comment:
        return None
    rating = session.scalar(
        select(m.SatisfactionRating)
        .where(m.SatisfactionRating.conversation_ref == conversation_ref)
        .order_by(m.SatisfactionRating.id.desc())
        .limit(1)
    )
    if rating is None or rating.comment:
        return None
    rating.comment = comment
    return rating


def recent_comments(
    session: Session, limit: int = 20, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[m.SatisfactionRating]:
    """The latest ratings that came with a comment, newest first (for the quality view and supervisors)."""
    query = select(m.SatisfactionRating).where(
        m.SatisfactionRating.comment.is_not(None), m.SatisfactionRating.comment != ""
    )
    if since is not None:
        query = query.where(m.SatisfactionRating.created_at >= since)
    if until is not None:
        query = query.where(m.SatisfactionRating.created_at < until)
    return list(session.scalars(query.order_by(m.SatisfactionRating.id.desc()).limit(limit)))
