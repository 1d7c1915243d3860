"""What the desk reads and writes: staff accounts, the queue as staff see it, and transcripts.

Transcripts come from the Rasa server's tracker store (``TRACKER_STORE_URL``, Rasa's
``events`` table), read only: the customer's messages while a person holds the conversation
are stored there by the paused bot, and the person's replies by the Rasa server
(:mod:`bot.channels.desk`). Personal numbers are masked before anything is stored, so the
transcript shows them masked.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from banktext import redact
from knowledge import handoffs as h
from knowledge import models as m
from knowledge import reminders
from knowledge.db import get_engine

ROOT = Path(__file__).resolve().parents[1]
ROLES = ("agent", "supervisor")
#: The latest rating comments a supervisor sees on the overview.
COMMENTS_SHOWN = 10
CHANNEL_NAMES = {"web": "网页", "wechat": "微信", "rest": "接口"}
INTENT_NAMES = {
    "ask_product_info": "产品介绍",
    "ask_interest_rate": "利率/汇率",
    "ask_fees": "费用",
    "ask_eligibility": "申请条件",
    "ask_required_documents": "所需材料",
    "ask_risk": "风险",
    "compare_products": "产品比较",
    "ask_recommendation": "推荐",
    "apply_product": "办理申请",
    "ask_maturity": "到期与续存",
    "report_lost_card": "挂失",
    "report_fraud": "诈骗/盗刷",
    "ask_branch": "网点",
    "ask_contact": "联系方式",
    "book_appointment": "预约",
    "complain": "投诉",
    "request_human": "转人工",
    "faq": "常见问题",
    "bot_challenge": "问是否机器人",
    "ask_capabilities": "功能菜单",
    "out_of_scope": "业务范围外",
}
#: What staff read for the other intents: conversation control, form answers, and the project's own
#: intents decided by rules and buttons (not counted among "what customers ask").
OTHER_INTENT_NAMES = {
    "greet": "问候",
    "goodbye": "再见",
    "thank": "感谢",
    "affirm": "确认",
    "deny": "不用/否定",
    "inform": "回答问题",
    "rate_service": "评分",
    "ask_ticket_status": "查投诉进度",
    "set_reminder": "设提醒",
    "cancel_reminder": "取消提醒",
    "list_reminders": "查提醒",
    "cancel_appointment": "取消预约",
    "list_appointments": "查预约",
}


def display_names(session: Session) -> dict[str, str]:
    """Staff by login name -> the name colleagues know them by (王敏), for the pages that say who did what."""
    return dict(session.execute(select(m.StaffUser.name, m.StaffUser.display_name)).all())


def intent_name(intent: str) -> str:
    """An intent as staff read it."""
    return INTENT_NAMES.get(intent) or OTHER_INTENT_NAMES.get(intent) or intent


RISK_NAMES = {"R1": "R1 谨慎型", "R2": "R2 稳健型", "R3": "R3 平衡型", "R4": "R4 进取型", "R5": "R5 激进型"}
SEGMENT_NAMES = {
    "student": "学生",
    "young_professional": "年轻上班族",
    "homemaker": "家庭主妇/主夫",
    "retiree": "退休人士",
    "business_owner": "企业主/个体户",
    "high_net_worth": "高净值客户",
}


# --- staff ------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # salted scrypt (Werkzeug)


def add_user(
    session: Session, name: str, password: str, role: str, display_name: str = "", departments: list[str] | None = None
) -> m.StaffUser:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("a password needs at least 10 characters")
    if session.scalar(select(m.StaffUser).where(m.StaffUser.name == name)):
        raise ValueError(f"a user named {name} exists")
    user = m.StaffUser(
        name=name,
        display_name=display_name or name,
        role=role,
        departments=list(departments or []),
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def check_login(session: Session, name: str, password: str) -> m.StaffUser | None:
    user = session.scalar(select(m.StaffUser).where(m.StaffUser.name == name, m.StaffUser.active.is_(True)))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)  # the same work either way: names are not revealed by timing
        return None
    return user if check_password_hash(user.password_hash, password) else None


_DUMMY_HASH = generate_password_hash("not a password of anyone")


def departments_of(user: m.StaffUser, settings: h.Desk | None) -> list[str]:
    every = [d[0] for d in settings.departments] if settings else []
    return [d for d in every if not user.departments or d in user.departments]


# --- the queue as staff see it -------------------------------------------------------


def handoff_view(session: Session, handoff: m.Handoff, settings: h.Desk | None, preview: str = "") -> dict[str, Any]:
    now = h.utcnow()
    agent = session.scalar(select(m.StaffUser).where(m.StaffUser.name == handoff.agent)) if handoff.agent else None
    return {
        "id": handoff.id,
        "code": handoff.code,
        "state": handoff.state,
        "department": handoff.department,
        "department_name": settings.department_name(handoff.department) if settings else handoff.department,
        "reason": handoff.reason,
        "reason_label": h.REASONS.get(handoff.reason, handoff.reason),
        "priority": handoff.priority,
        "channel": handoff.channel,
        "channel_name": CHANNEL_NAMES.get(handoff.channel, handoff.channel),
        "waiting_seconds": int(((handoff.taken_at or now) - handoff.created_at).total_seconds()),
        "position": h.position(session, handoff) if handoff.state == "waiting" else None,
        "preview": preview,
        "agent": handoff.agent,
        "agent_name": agent.display_name if agent else None,
        "created_at": handoff.created_at.isoformat() + "Z",
    }


def summary_view(handoff: m.Handoff) -> dict[str, Any]:
    s = handoff.summary or {}
    return {
        "intents": [intent_name(i) for i in s.get("intents", [])],
        "products": list(s.get("products", [])),
        "segment": SEGMENT_NAMES.get(s.get("segment") or "", s.get("segment")),
        "risk_level": RISK_NAMES.get(s.get("risk_level") or "", s.get("risk_level")),
        "disclosures": list(s.get("disclosures", [])),
        "elderly": bool(s.get("elderly")),
        "reason_label": h.REASONS.get(handoff.reason, handoff.reason),
    }


def overview(session: Session, settings: h.Desk | None) -> dict[str, Any]:
    """Queues with their waiting times, per agent: handled, first response, satisfaction; and the
    latest comments customers added to their ratings (masked, with no conversation)."""
    now = h.utcnow()
    queues = []
    for code, name, *_ in settings.departments if settings else ():
        waiting = h.waiting(session, [code])
        queues.append(
            {
                "department": code,
                "department_name": name,
                "waiting": len(waiting),
                "longest_wait_seconds": max((int((now - w.created_at).total_seconds()) for w in waiting), default=0),
            }
        )
    agents = []
    for user in session.scalars(select(m.StaffUser).where(m.StaffUser.role == "agent").order_by(m.StaffUser.name)):
        handled = session.scalars(
            select(m.Handoff).where(m.Handoff.agent == user.name, m.Handoff.state == "resolved")
        ).all()
        firsts = [
            (x.first_response_at - x.taken_at).total_seconds()
            for x in handled
            if x.first_response_at and x.taken_at and x.first_response_at >= x.taken_at
        ]
        score, ratings = session.execute(
            select(func.avg(m.SatisfactionRating.score), func.count(m.SatisfactionRating.id)).where(
                m.SatisfactionRating.agent == user.name
            )
        ).one()
        active = session.scalar(
            select(func.count())
            .select_from(m.Handoff)
            .where(m.Handoff.agent == user.name, m.Handoff.state == "with_agent")
        )
        agents.append(
            {
                "name": user.name,
                "display_name": user.display_name,
                "online": bool(user.online),
                "active": int(active or 0),
                "handled": len(handled),
                "avg_first_response_seconds": round(sum(firsts) / len(firsts), 1) if firsts else None,
                "avg_satisfaction": round(float(score), 2) if score is not None else None,
                "ratings": int(ratings or 0),
            }
        )
    comments = [
        {
            "score": r.score,
            "comment": redact(r.comment or ""),
            "agent": r.agent,
            "created_at": f"{r.created_at.replace(tzinfo=dt.timezone.utc).astimezone(h.BANK_TZ):%m-%d %H:%M}",
        }
        for r in h.recent_comments(session, COMMENTS_SHOWN)
    ]
    return {"queues": queues, "agents": agents, "comments": comments}


# --- transcripts (the tracker store, read only) ---------------------------------------


def tracker_engine() -> Engine:
    url = os.environ.get("TRACKER_STORE_URL") or f"sqlite:///{ROOT / 'var' / 'tracker.db'}"
    return get_engine(url)


def events_table(engine: Engine) -> Table | None:
    """Rasa's ``events`` table of the tracker store, or None before any conversation was stored."""
    metadata = MetaData()
    try:
        return Table("events", metadata, autoload_with=engine)
    except Exception:  # no conversation stored yet
        return None


def transcript(engine: Engine, conversation_id: str, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    """The conversation's messages after event ``after``: customer, bot and people, in order."""
    events = events_table(engine)
    if events is None:
        return []
    query = (
        select(events.c.id, events.c.type_name, events.c.data)
        .where(events.c.sender_id == conversation_id, events.c.id > after, events.c.type_name.in_(("user", "bot")))
        .order_by(events.c.id)
        .limit(limit)
    )
    entries = []
    with engine.connect() as connection:
        for event_id, type_name, data in connection.execute(query):
            try:
                event = json.loads(data)
            except (TypeError, ValueError):
                continue
            text = event.get("text") or ""
            metadata = event.get("metadata") or {}
            buttons = [str(b.get("title", "")) for b in ((event.get("data") or {}).get("buttons") or []) if b]
            if type_name == "user":
                who = "customer"
                if text.startswith("/"):  # a button's payload: say what the customer pressed
                    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
                    text = f"（点击按钮：{intent_name(intent) if intent else '按钮'}）"
            else:
                who = "agent" if metadata.get("agent") else "bot"
            at = dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.timezone.utc)
            entries.append(
                {
                    "id": int(event_id),
                    "who": who,
                    "agent_name": metadata.get("agent"),
                    "text": text,
                    "buttons": buttons,
                    "at": at.isoformat().replace("+00:00", "Z"),
                }
            )
    return entries


def last_customer_text(engine: Engine, conversation_id: str) -> str:
    events = events_table(engine)
    if events is None:
        return ""
    query = (
        select(events.c.data)
        .where(events.c.sender_id == conversation_id, events.c.type_name == "user")
        .order_by(events.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        data = connection.execute(query).scalar()
    try:
        text = json.loads(data).get("text") or "" if data else ""
    except ValueError:
        return ""
    return "" if text.startswith("/") else text[:80]


#: What a reminder is before, as staff read it.
REMINDER_KINDS = {"appointment": "预约", "maturity": "到期"}


def reminders_view(session: Session, conversation_id: str) -> list[str]:
    """The customer's reminders still to be sent, as lines for the summary (Beijing time)."""
    return [
        f"{reminders.to_local(r.remind_at):%m-%d %H:%M} 提醒{REMINDER_KINDS.get(r.kind, r.kind)}：{r.subject}"
        f"（{reminders.to_local(r.event_at):%m-%d}）"
        for r in reminders.pending_of(session, conversation_id)
    ]
