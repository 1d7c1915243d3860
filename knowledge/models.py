"""SQLAlchemy 2.0 models of the knowledge base.

Catalogue tables (bank, categories, products, disclosures, segments, branches,
FAQ) are owned by the seed loader and keyed by a stable ``code``. Operational
tables (disclosure acknowledgements, unanswered questions, appointments,
complaints, handoffs, satisfaction ratings, reminders) are written by the action server and the
staff desk and never touched by a reload; staff accounts are made with ``python -m desk``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import text


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Bank(Base):
    __tablename__ = "bank"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str] = mapped_column(String(40))
    hotline: Mapped[str] = mapped_column(String(40))
    credit_card_hotline: Mapped[str | None] = mapped_column(String(40))
    fraud_hotline: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str] = mapped_column(String(200))
    app_name: Mapped[str | None] = mapped_column(String(60))
    wechat_account: Mapped[str | None] = mapped_column(String(60))
    service_hours: Mapped[str] = mapped_column(String(100))


class Category(Base):
    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    synonyms: Mapped[list[Any]] = mapped_column(default=list)

    products: Mapped[list[Product]] = relationship(back_populates="category")


product_segment = Table(
    "product_segment",
    Base.metadata,
    Column("product_id", ForeignKey("product.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", ForeignKey("segment.id", ondelete="CASCADE"), primary_key=True),
)


class Product(Base):
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    summary: Mapped[str] = mapped_column(Text)
    features: Mapped[list[Any]] = mapped_column(default=list)
    goals: Mapped[list[Any]] = mapped_column(default=list)
    risk_level: Mapped[str | None] = mapped_column(String(2))
    min_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    max_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    min_term_months: Mapped[int | None]
    max_term_months: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(8), default="CNY")
    rate_effective_date: Mapped[dt.date | None] = mapped_column(Date)
    rate_kind: Mapped[str | None] = mapped_column(String(20))
    rate_note: Mapped[str | None] = mapped_column(Text)
    eligibility: Mapped[list[Any]] = mapped_column(default=list)
    documents: Mapped[list[Any]] = mapped_column(default=list)
    apply_channels: Mapped[list[Any]] = mapped_column(default=list)
    apply_steps: Mapped[list[Any]] = mapped_column(default=list)
    maturity: Mapped[str | None] = mapped_column(Text)
    auto_renew: Mapped[bool | None] = mapped_column(Boolean)
    early_withdrawal: Mapped[str | None] = mapped_column(Text)

    category: Mapped[Category] = relationship(back_populates="products")
    aliases: Mapped[list[ProductAlias]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductAlias.position"
    )
    rates: Mapped[list[RateRow]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="RateRow.position"
    )
    fees: Mapped[list[Fee]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="Fee.position"
    )
    segments: Mapped[list[Segment]] = relationship(secondary=product_segment)


class ProductAlias(Base):
    __tablename__ = "product_alias"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(100))
    alias_key: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="aliases")


class RateRow(Base):
    __tablename__ = "rate_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    term_months: Mapped[int | None]
    label: Mapped[str | None] = mapped_column(String(60))
    rate: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    unit: Mapped[str] = mapped_column(String(30), default="%")
    position: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="rates")


class Fee(Base):
    __tablename__ = "fee"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    unit: Mapped[str | None] = mapped_column(String(30))
    waiver: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="fees")


class Segment(Base):
    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    synonyms: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text)

    rules: Mapped[list[RecommendationRule]] = relationship(
        back_populates="segment", cascade="all, delete-orphan", order_by="RecommendationRule.priority"
    )


class RecommendationRule(Base):
    __tablename__ = "recommendation_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"))
    goal: Mapped[str] = mapped_column(String(30))
    categories: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(default=0)

    segment: Mapped[Segment] = relationship(back_populates="rules")


class Disclosure(Base):
    __tablename__ = "disclosure"
    __table_args__ = (UniqueConstraint("risk_level", "category_code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    risk_level: Mapped[str] = mapped_column(String(2))
    category_code: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)


class Branch(Base):
    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(40), index=True)
    district: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40))
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    services: Mapped[list[Any]] = mapped_column(default=list)


class Faq(Base):
    __tablename__ = "faq"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    questions: Mapped[list[Any]] = mapped_column(default=list)
    answer: Mapped[str] = mapped_column(Text)


# --- operational records, written by the action server ------------------------


class DisclosureAcknowledgement(Base):
    """Audit trail: a customer acknowledged a risk disclosure."""

    __tablename__ = "disclosure_ack"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_ref: Mapped[str] = mapped_column(String(64), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    disclosure_code: Mapped[str] = mapped_column(String(40))
    disclosure_version: Mapped[str] = mapped_column(String(20))
    acknowledged_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class UnansweredQuestion(Base):
    """A question the assistant could not answer, redacted, for the quality view and for staff to
    label as training data (``desk.review``)."""

    __tablename__ = "unanswered_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_ref: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40))
    intent: Mapped[str | None] = mapped_column(String(60))
    confidence: Mapped[float | None]
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    #: what a supervisor said the customer meant (an intent of the NLU contract, ``faq/<topic>``,
    #: or ``skip``: nothing to learn from), for the next training (``desk.review``); empty until then
    label: Mapped[str | None] = mapped_column(String(80))
    #: the supervisor (desk user name) who gave the label, and when (UTC)
    labelled_by: Mapped[str | None] = mapped_column(String(64))
    labelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Appointment(Base):
    """A branch appointment booked through the assistant."""

    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    conversation_ref: Mapped[str] = mapped_column(String(64), index=True)
    branch_code: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)
    business: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    #: when it was cancelled (UTC), by the customer or by staff; a cancelled appointment keeps its row
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: what the branch recorded on the day: ``arrived`` or ``no_show`` (empty until then)
    attendance: Mapped[str | None] = mapped_column(String(16))
    #: when the branch recorded it (UTC)
    attendance_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: the member of staff (desk user name) who cancelled it, moved it or recorded the attendance;
    #: empty when the customer cancelled it and nobody recorded anything
    handled_by: Mapped[str | None] = mapped_column(String(64))
    #: the time it was booked for before branch staff moved it at the customer's request (Beijing);
    #: empty when it was never moved
    moved_from: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Complaint(Base):
    """A complaint lodged through the assistant, followed as a ticket (contact stored masked).

    ``status``: open -> in_progress -> resolved, changed by staff (console or ``python -m desk
    tickets``); the customer asks for it by the ticket's code from the conversation that filed it.
    """

    __tablename__ = "complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    conversation_ref: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    status: Mapped[str] = mapped_column(String(20), default="open", server_default=text("'open'"), index=True)
    #: "phone" (call the number given) or "online" (answer on the customer's channel)
    contact_preference: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: what staff tell the customer about the ticket (shown when the customer asks)
    staff_reply: Mapped[str | None] = mapped_column(Text)


class CallbackNumber(Base):
    """A call-back number a customer gave for a complaint, sealed (:mod:`banktext.sealing`).

    The channel gateway seals the number it masked once the complaint form took it, the action
    server stores it here with the conversation's pseudonym and the masked form the ticket
    carries, and only the staff console opens it, next to the ticket with the same masked
    contact. Numbers no ticket took are deleted after a day, the rest with the conversations
    (``CONVERSATION_RETENTION_DAYS``): :func:`knowledge.tickets.purge_callback_numbers`.
    """

    __tablename__ = "callback_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_ref: Mapped[str] = mapped_column(String(64), index=True)
    masked: Mapped[str] = mapped_column(String(60))
    sealed: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow, index=True)


class DeskDepartment(Base):
    """A queue of the staff desk (retail, cards, loans, wealth, corporate, complaints), from ``desk.yml``:
    which product types and intents route a handoff to it."""

    __tablename__ = "desk_department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(default=0)
    product_types: Mapped[list[Any]] = mapped_column(default=list)
    intents: Mapped[list[Any]] = mapped_column(default=list)
    segments: Mapped[list[Any]] = mapped_column(default=list)


class DeskSetting(Base):
    """The desk's opening hours and waiting limits (one row, from ``desk.yml``)."""

    __tablename__ = "desk_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    opens: Mapped[str] = mapped_column(String(5))  # "08:00", local time of the bank (Asia/Shanghai)
    closes: Mapped[str] = mapped_column(String(5))
    weekdays: Mapped[list[Any]] = mapped_column(default=list)  # 1 = Monday ... 7 = Sunday
    max_wait_minutes: Mapped[int] = mapped_column(default=15)
    default_handle_minutes: Mapped[int] = mapped_column(default=6)
    specialist_topics: Mapped[list[Any]] = mapped_column(default=list)


class CannedReply(Base):
    """A ready answer staff can send from the console (``desk.yml``; the FAQ answers come too)."""

    __tablename__ = "canned_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)


# --- the staff desk: handoffs to people, staff accounts, satisfaction ------------


class StaffUser(Base):
    """A member of staff who logs in to the desk console (password stored as a salted hash only)."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))  # agent | supervisor
    departments: Mapped[list[Any]] = mapped_column(default=list)
    password_hash: Mapped[str] = mapped_column(String(300))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class Handoff(Base):
    """A conversation handed to a person: bot -> waiting -> with_agent -> resolved (-> back to the bot).

    ``message`` is a handoff left as a message outside opening hours or after the longest wait
    (a ticket staff answer on the customer's channel); ``cancelled`` one the customer withdrew.
    ``conversation_id`` is the tracker's key: the desk reaches the customer through it.
    """

    __tablename__ = "handoff"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="web")
    state: Mapped[str] = mapped_column(String(20), index=True)
    department: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    agent: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class HandoffNote(Base):
    """A note staff keep on a handoff (never shown to the customer)."""

    __tablename__ = "handoff_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class SatisfactionRating(Base):
    """A customer's 1-5 rating of a conversation (or of the person who served them)."""

    __tablename__ = "satisfaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_ref: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[int] = mapped_column()
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoff.id", ondelete="SET NULL"))
    agent: Mapped[str | None] = mapped_column(String(40))
    #: What the customer added after rating, redacted (card, ID and phone numbers masked).
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class Reminder(Base):
    """A reminder the customer asked for: before a branch appointment or before a product matures.

    ``status``: pending -> due (claimed by one scheduler) -> sent, or back to pending after a failed
    delivery (``failed`` after the last attempt); ``cancelled`` when the customer opted out. Times
    are UTC. ``subject`` is what the reminder is about (a branch's name, the product as the
    customer named it), masked."""

    __tablename__ = "reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # appointment | maturity
    subject: Mapped[str] = mapped_column(String(60))
    event_at: Mapped[dt.datetime] = mapped_column(DateTime)
    remind_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CatalogueStamp(Base):
    """One row whose stamp changes whenever the catalogue (bank, categories, products and what
    belongs to them, segments) changes: readers keep a copy of the catalogue for as long as
    the stamp stays the same (``knowledge.queries``)."""

    __tablename__ = "catalogue_stamp"

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(String(32))
