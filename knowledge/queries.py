"""Read and write the knowledge base: every function takes the caller's session.

Functions return plain frozen dataclasses, never ORM rows, so callers can use the
results after their session has closed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import hashlib
import re
import secrets
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, insert, inspect, select, update
from sqlalchemy.orm import Session, selectinload

from knowledge import models as m
from knowledge.schema import WEEKDAYS
from knowledge.text import normalise

#: Categories whose every product needs a disclosure, whatever its risk level.
DISCLOSED_CATEGORIES = frozenset({"fund", "wealth_management", "insurance"})
#: Categories whose products are deposits, protected by the Deposit Insurance Regulations.
DEPOSIT_CATEGORIES = frozenset({"demand_deposit", "time_deposit", "certificate_of_deposit"})
#: The customer's own way of naming the bank, stripped before partial matching.
_BANK_REFERENCES = ("你们银行", "贵行", "你行", "你们", "本行")


# --- views ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RateView:
    term_months: int | None
    label: str | None
    rate: Decimal
    unit: str


@dataclasses.dataclass(frozen=True)
class FeeView:
    name: str
    amount: Decimal | None
    unit: str | None
    waiver: str | None
    description: str | None


@dataclasses.dataclass(frozen=True)
class ProductView:
    code: str
    name: str
    aliases: tuple[str, ...]
    category: str
    category_name: str
    summary: str
    features: tuple[str, ...]
    segments: tuple[str, ...]
    goals: tuple[str, ...]
    risk_level: str | None
    min_amount: Decimal | None
    max_amount: Decimal | None
    min_term_months: int | None
    max_term_months: int | None
    currency: str
    rate_effective_date: dt.date | None
    rate_kind: str | None
    rate_note: str | None
    rates: tuple[RateView, ...]
    fees: tuple[FeeView, ...]
    eligibility: tuple[str, ...]
    documents: tuple[str, ...]
    apply_channels: tuple[str, ...]
    apply_steps: tuple[str, ...]
    maturity: str | None
    auto_renew: bool | None
    early_withdrawal: str | None

    @property
    def risk_rank(self) -> int:
        """1..5 for R1..R5; 0 for products without a risk rating (cards, loans)."""
        return int(self.risk_level[1]) if self.risk_level else 0

    @property
    def needs_disclosure(self) -> bool:
        """R3 and above, and every fund, wealth and insurance product."""
        return self.risk_rank >= 3 or self.category in DISCLOSED_CATEGORIES


@dataclasses.dataclass(frozen=True)
class ProductMatch:
    product: ProductView
    score: float
    how: str  # exact | partial | fuzzy


@dataclasses.dataclass(frozen=True)
class CategoryView:
    code: str
    name: str
    description: str
    synonyms: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BankView:
    code: str
    name: str
    short_name: str
    hotline: str
    credit_card_hotline: str | None
    fraud_hotline: str | None
    website: str
    app_name: str | None
    wechat_account: str | None
    service_hours: str


@dataclasses.dataclass(frozen=True)
class DisclosureView:
    code: str
    risk_level: str
    category: str | None
    version: str
    effective_date: dt.date
    title: str
    text: str


@dataclasses.dataclass(frozen=True)
class BranchView:
    code: str
    name: str
    city: str
    district: str
    address: str
    phone: str
    hours: dict
    services: tuple[str, ...]

    def hours_on(self, day: dt.date) -> tuple[dt.time, dt.time] | None:
        """Opening and closing time on ``day``; None when closed."""
        span = self.hours.get(WEEKDAYS[day.weekday()])
        if not span:
            return None
        start, end = span.split("-")
        return _parse_time(start), _parse_time(end)

    def is_open_at(self, when: dt.datetime) -> bool:
        span = self.hours_on(when.date())
        return bool(span) and span[0] <= when.time() < span[1]


@dataclasses.dataclass(frozen=True)
class RateQuote:
    product: ProductView
    row: RateView
    exact: bool


@dataclasses.dataclass(frozen=True)
class Comparison:
    products: tuple[ProductView, ...]
    attributes: tuple[str, ...]  # attribute codes, the same order for every product


@dataclasses.dataclass(frozen=True)
class Recommendation:
    product: ProductView
    reason: str  # the segment's reason for this goal, from the knowledge base
    rule_goal: str | None
    score: float


@dataclasses.dataclass(frozen=True)
class Suitability:
    suitable: bool
    product_risk: str | None
    tolerance: str


@dataclasses.dataclass(frozen=True)
class FaqView:
    topic: str
    title: str
    questions: tuple[str, ...]
    answer: str


def _parse_time(text: str) -> dt.time:
    hour, minute = (int(x) for x in text.split(":"))
    return dt.time(23, 59, 59) if hour == 24 else dt.time(hour, minute)


def _product_view(row: m.Product) -> ProductView:
    return ProductView(
        code=row.code,
        name=row.name,
        aliases=tuple(a.alias for a in row.aliases),
        category=row.category.code,
        category_name=row.category.name,
        summary=row.summary,
        features=tuple(row.features),
        segments=tuple(sorted(s.code for s in row.segments)),
        goals=tuple(row.goals),
        risk_level=row.risk_level,
        min_amount=row.min_amount,
        max_amount=row.max_amount,
        min_term_months=row.min_term_months,
        max_term_months=row.max_term_months,
        currency=row.currency,
        rate_effective_date=row.rate_effective_date,
        rate_kind=row.rate_kind,
        rate_note=row.rate_note,
        rates=tuple(RateView(r.term_months, r.label, Decimal(r.rate), r.unit) for r in row.rates),
        fees=tuple(FeeView(f.name, f.amount, f.unit, f.waiver, f.description) for f in row.fees),
        eligibility=tuple(row.eligibility),
        documents=tuple(row.documents),
        apply_channels=tuple(row.apply_channels),
        apply_steps=tuple(row.apply_steps),
        maturity=row.maturity,
        auto_renew=row.auto_renew,
        early_withdrawal=row.early_withdrawal,
    )


# --- bank, categories -----------------------------------------------------------


def bank_values(bank: Any) -> dict[str, str]:
    """The bank's name and contact points (of a ``BankView`` or the seed's bank), keyed as responses name them."""
    if bank is None:
        return {}
    return {
        "bank_name": bank.name,
        "hotline": bank.hotline,
        "card_hotline": bank.credit_card_hotline or bank.hotline,
        "fraud_hotline": bank.fraud_hotline or bank.hotline,
        "website": bank.website,
        "wechat": bank.wechat_account or "",
        "app_name": bank.app_name or "",
        "service_hours": bank.service_hours,
    }


def get_bank(session: Session) -> BankView | None:
    row = session.scalar(select(m.Bank).order_by(m.Bank.id))
    if row is None:
        return None
    return BankView(**{f.name: getattr(row, f.name) for f in dataclasses.fields(BankView)})


def list_categories(session: Session) -> list[CategoryView]:
    rows = session.scalars(select(m.Category).order_by(m.Category.id))
    return [CategoryView(r.code, r.name, r.description, tuple(r.synonyms)) for r in rows]


def find_category(session: Session, text: str) -> CategoryView | None:
    """The category whose code, name or synonym occurs in ``text`` (longest mention wins)."""
    key = normalise(text)
    best, best_len = None, 0
    for cat in list_categories(session):
        if text.strip() == cat.code:
            return cat
        for word in (cat.name, *cat.synonyms):
            w = normalise(word)
            if w and w in key and len(w) > best_len:
                best, best_len = cat, len(w)
    return best


# --- products -------------------------------------------------------------------


def get_product(session: Session, code: str) -> ProductView | None:
    return _catalogue(session).by_code.get(code)


def list_products(
    session: Session,
    category: str | None = None,
    segment: str | None = None,
    max_risk: str | None = None,
) -> list[ProductView]:
    """Products filtered by category code, target segment code and highest risk level."""
    views = list(_catalogue(session).products)
    if category:
        views = [v for v in views if v.category == category]
    if segment:
        views = [v for v in views if segment in v.segments]
    if max_risk:
        views = [v for v in views if v.risk_rank <= int(max_risk[1])]
    return views


def _strip_bank(key: str, bank_keys: Sequence[str]) -> str:
    for ref in (*bank_keys, *_BANK_REFERENCES):
        if ref and key.startswith(ref) and len(key) > len(ref):
            return key[len(ref) :]
    return key


def part_of_a_product_name(session: Session, words: str) -> bool:
    """Whether ``words`` are part of a catalogue product's name or alias ("天天利", "睿远")."""
    key = normalise(words)
    return bool(key) and any(key in name_key for name_key, _, _ in _catalogue(session).names)


def find_products(session: Session, text: str, limit: int = 5) -> list[ProductMatch]:
    """Products named in ``text``, best first.

    Exact name or alias first (spacing, punctuation, width and Traditional script
    ignored); then a name or alias mentioned inside the text, or the text being a
    part of a name; then close spellings.
    """
    key = normalise(text)
    if not key:
        return []
    catalogue = _catalogue(session)
    bank_keys = catalogue.bank_keys
    variants = {key, _strip_bank(key, bank_keys)}
    scores: dict[int, tuple[float, str]] = {}

    def offer(pid: int, score: float, how: str) -> None:
        if score > scores.get(pid, (0.0, ""))[0]:
            scores[pid] = (score, how)

    for name_key, short_name, pid in catalogue.names:
        for v in variants:
            if v in (name_key, short_name):
                offer(pid, 1.0, "exact")
            elif len(short_name) >= 2 and short_name in v:
                # the text mentions the name: longer mentions are surer
                offer(pid, 0.6 + 0.3 * len(short_name) / len(v), "partial")
            elif len(v) >= 2 and v in name_key:
                offer(pid, 0.5 + 0.4 * len(v) / len(name_key), "partial")
    if not scores:
        for name_key, short_name, pid in catalogue.names:
            for candidate in {name_key, short_name}:
                ratio = difflib.SequenceMatcher(None, key, candidate).ratio()
                if ratio >= 0.7:
                    offer(pid, 0.5 * ratio, "fuzzy")
    if not scores:
        return []
    best = sorted(scores.items(), key=lambda kv: -kv[1][0])[:limit]
    return [ProductMatch(catalogue.by_id[pid], round(score, 3), how) for pid, (score, how) in best]


# --- the catalogue, read once for as long as it does not change ----------------------

#: What the catalogue copy is made of: a change to any of these changes the stamp.
CATALOGUE_MODELS = (m.Bank, m.Category, m.Product, m.ProductAlias, m.RateRow, m.Fee, m.Segment)


@dataclasses.dataclass(frozen=True)
class _Catalogue:
    stamp: str | None
    products: tuple[ProductView, ...]  # in catalogue order
    by_code: dict[str, ProductView]
    by_id: dict[int, ProductView]
    names: tuple[tuple[str, str, int], ...]  # (name or alias key, the same without the bank's name, product id)
    bank_keys: tuple[str, ...]


#: The last catalogue read from each database, with the stamp it was read under.
_COPIES: dict[str, _Catalogue] = {}
_HAS_STAMP: dict[str, bool] = {}


def _stamp(session: Session, url: str) -> str | None:
    """The database's catalogue stamp; None when it has none (a database made by an older
    version: then nothing is kept and every call reads the rows, as before)."""
    if not _HAS_STAMP.get(url):  # asked again until it exists: the database may be set up later
        _HAS_STAMP[url] = inspect(session.connection()).has_table(m.CatalogueStamp.__tablename__)
        if not _HAS_STAMP[url]:
            return None
    return session.scalar(select(m.CatalogueStamp.stamp).order_by(m.CatalogueStamp.id))


def _catalogue(session: Session) -> _Catalogue:
    """The catalogue as frozen views. Read from the rows once per stamp and database, and once
    per session at most (an action's queries see one catalogue)."""
    copy = session.info.get("catalogue")
    if copy is not None:
        return copy
    url = session.get_bind().url.render_as_string(hide_password=False)
    stamp = _stamp(session, url)
    copy = _COPIES.get(url)
    if stamp is None or copy is None or copy.stamp != stamp:
        copy = _read_catalogue(session, stamp)
        if stamp is not None:
            _COPIES[url] = copy
    session.info["catalogue"] = copy
    return copy


def _read_catalogue(session: Session, stamp: str | None) -> _Catalogue:
    rows = session.scalars(
        select(m.Product)
        .options(
            selectinload(m.Product.category),
            selectinload(m.Product.aliases),
            selectinload(m.Product.rates),
            selectinload(m.Product.fees),
            selectinload(m.Product.segments),
        )
        .order_by(m.Product.id)
    ).all()
    views = {row.id: _product_view(row) for row in rows}
    bank = session.execute(select(m.Bank.name, m.Bank.short_name).order_by(m.Bank.id)).first()
    bank_keys = tuple(normalise(b) for b in (bank or ()) if b)
    keyed = [(row.name_key, row.id) for row in rows]
    keyed += [(key, pid) for _, key, pid in sorted((a.id, a.alias_key, row.id) for row in rows for a in row.aliases)]
    return _Catalogue(
        stamp=stamp,
        products=tuple(views.values()),
        by_code={v.code: v for v in views.values()},
        by_id=views,
        names=tuple((k, _strip_bank(k, bank_keys), pid) for k, pid in keyed),
        bank_keys=bank_keys,
    )


def touch_catalogue(session: Session) -> None:
    """Give the catalogue a new stamp, in the session's transaction: every reader's copy is
    then read again. Done on its own whenever the ORM writes a catalogue row (below), and by
    the loader after its bulk deletes."""
    session.info.pop("catalogue", None)
    connection = session.connection()
    if not inspect(connection).has_table(m.CatalogueStamp.__tablename__):
        return
    stamp = secrets.token_hex(16)
    if connection.execute(update(m.CatalogueStamp).values(stamp=stamp)).rowcount == 0:
        connection.execute(insert(m.CatalogueStamp).values(stamp=stamp))


@event.listens_for(Session, "after_flush")
def _catalogue_written(session: Session, _context: Any) -> None:
    """A catalogue row added, deleted or really changed (not merely set to the value it had)."""
    if any(isinstance(row, CATALOGUE_MODELS) for row in (*session.new, *session.deleted)) or any(
        isinstance(row, CATALOGUE_MODELS) and session.is_modified(row) for row in session.dirty
    ):
        touch_catalogue(session)


def rate_for_term(session: Session, code: str, term_months: int | None = None) -> RateQuote | None:
    """The rate row for ``term_months``: the exact term, else the longest term not above it.

    Without a term, the first row. None when the product has no rate table or the
    term is shorter than every listed term.
    """
    product = get_product(session, code)
    if product is None or not product.rates:
        return None
    if term_months is None:
        return RateQuote(product, product.rates[0], exact=False)
    termed = [r for r in product.rates if r.term_months is not None]
    for row in termed:
        if row.term_months == term_months:
            return RateQuote(product, row, exact=True)
    for row in product.rates:  # rows labelled by a range of terms: "期限5年以上", "期限5年及以下"
        span = _label_span(row.label or "")
        if span and span[0] < term_months <= span[1]:
            return RateQuote(product, row, exact=True)
    below = [r for r in termed if r.term_months <= term_months]
    if not below:
        return None
    return RateQuote(product, max(below, key=lambda r: r.term_months), exact=False)


_SPAN = re.compile(r"(\d+)\s*(年|个月)(以上|及以下|以下|以内)")


def _label_span(label: str) -> tuple[float, float] | None:
    """The terms (months, exclusive lower, inclusive upper) a rate row's label names, if it names a range."""
    match = _SPAN.search(label)
    if not match:
        return None
    months = int(match.group(1)) * (12 if match.group(2) == "年" else 1)
    return (months, float("inf")) if match.group(3) == "以上" else (0, months)


def product_fees(session: Session, code: str) -> tuple[FeeView, ...]:
    product = get_product(session, code)
    return product.fees if product else ()


def product_documents(session: Session, code: str) -> tuple[str, ...]:
    product = get_product(session, code)
    return product.documents if product else ()


def product_eligibility(session: Session, code: str) -> tuple[str, ...]:
    product = get_product(session, code)
    return product.eligibility if product else ()


#: Attributes worth comparing, by category; the first ones matter most.
COMPARE_ATTRIBUTES = {
    "deposit": ("rates", "min_amount", "term", "early_withdrawal", "maturity", "risk_level"),
    "card": ("fees", "features", "eligibility"),
    "loan": ("rates", "max_amount", "term", "fees", "eligibility"),
    "investment": ("risk_level", "rates", "min_amount", "term", "fees", "maturity"),
    "service": ("features", "fees", "apply_channels"),
}
_ATTRIBUTE_GROUP = {
    "demand_deposit": "deposit",
    "time_deposit": "deposit",
    "certificate_of_deposit": "deposit",
    "debit_card": "card",
    "credit_card": "card",
    "mortgage": "loan",
    "consumer_loan": "loan",
    "business_loan": "loan",
    "student_loan": "loan",
    "wealth_management": "investment",
    "fund": "investment",
    "insurance": "investment",
    "precious_metal": "investment",
    "forex": "investment",
    "e_banking": "service",
    "corporate_settlement": "service",
}


def compare_products(session: Session, codes: Sequence[str]) -> Comparison:
    """Products side by side on the attributes that matter for their categories."""
    products = tuple(p for p in (get_product(session, c) for c in codes) if p)
    attributes: list[str] = []
    for p in products:
        for attr in COMPARE_ATTRIBUTES[_ATTRIBUTE_GROUP[p.category]]:
            if attr not in attributes:
                attributes.append(attr)
    return Comparison(products, tuple(attributes))


# --- risk -----------------------------------------------------------------------


def disclosure_for(session: Session, code: str, on: dt.date | None = None) -> DisclosureView | None:
    """The disclosure in force for a product on ``on`` (today by default).

    The newest category-specific text for the product's risk level wins over the
    newest general one; texts whose effective date is still to come are ignored.
    """
    product = get_product(session, code)
    if product is None or not product.risk_level:
        return None
    on = on or dt.date.today()
    base = (
        select(m.Disclosure)
        .where(m.Disclosure.risk_level == product.risk_level, m.Disclosure.effective_date <= on)
        .order_by(m.Disclosure.effective_date.desc(), m.Disclosure.id.desc())
    )
    row = session.scalar(base.where(m.Disclosure.category_code == product.category))
    row = row or session.scalar(base.where(m.Disclosure.category_code.is_(None)))
    if row is None:
        return None
    return DisclosureView(
        row.code, row.risk_level, row.category_code, row.version, row.effective_date, row.title, row.text
    )


def suitability(product: ProductView, tolerance: str) -> Suitability:
    """Whether a product's risk level is within a C1..C5 risk tolerance."""
    return Suitability(product.risk_rank <= int(tolerance[1]), product.risk_level, tolerance)


def record_disclosure_ack(
    session: Session, conversation_id: str, product_code: str, disclosure: DisclosureView
) -> None:
    """Write the audit record of a customer acknowledging a disclosure."""
    session.add(
        m.DisclosureAcknowledgement(
            conversation_ref=pseudonym(conversation_id),
            product_code=product_code,
            disclosure_code=disclosure.code,
            disclosure_version=disclosure.version,
        )
    )


def pseudonym(conversation_id: str) -> str:
    """A stable pseudonymous reference: records never store the channel's user id."""
    return hashlib.sha256(f"yunlan-kb:{conversation_id}".encode()).hexdigest()[:32]


# --- recommendations --------------------------------------------------------------


def suitable_products(
    session: Session,
    segment: str,
    tolerance: str,
    goal: str | None = None,
    amount: Decimal | float | int | None = None,
    term_months: int | None = None,
    limit: int = 3,
    no_loss: bool = False,
) -> list[Recommendation]:
    """Up to ``limit`` products suited to the customer, each with the reason why.

    Never above the tolerance: a product rated above C-level N is not a candidate.
    ``no_loss`` (the customer accepts no loss of principal at all): only deposits and
    products that are not investments (cards, loans), never a product that may lose principal.
    The segment's rule for the goal orders the categories; products that target
    the segment and serve the goal rank higher; amount and term must fit.
    """
    seg = session.scalar(select(m.Segment).options(selectinload(m.Segment.rules)).where(m.Segment.code == segment))
    if seg is None:
        return []
    rules = [r for r in seg.rules if goal and r.goal == goal] or list(seg.rules)
    category_rank: dict[str, tuple[int, m.RecommendationRule]] = {}
    for rule in rules:
        for position, cat in enumerate(rule.categories):
            category_rank.setdefault(cat, (len(category_rank) + position, rule))
    max_rank = int(tolerance[1])
    amount = Decimal(str(amount)) if amount is not None else None
    found: list[Recommendation] = []
    for p in list_products(session):
        if p.category not in category_rank or p.risk_rank > max_rank:
            continue
        if no_loss and p.risk_level and p.category not in DEPOSIT_CATEGORIES:
            continue
        if amount is not None and p.min_amount is not None and p.min_amount > amount:
            continue
        if term_months is not None:
            if p.min_term_months and term_months < p.min_term_months:
                continue
            if p.max_term_months and term_months > p.max_term_months:
                continue
        position, rule = category_rank[p.category]
        score = 10.0 - position
        score += 3.0 if segment in p.segments else 0.0
        score += 2.0 if goal and goal in p.goals else 0.0
        found.append(Recommendation(p, rule.reason, rule.goal, score))
    found.sort(key=lambda r: (-r.score, r.product.risk_rank, r.product.code))
    # one product per category first, so three answers are three real choices
    picked: list[Recommendation] = []
    for rec in found:
        if all(rec.product.category != other.product.category for other in picked):
            picked.append(rec)
    for rec in found:
        if len(picked) >= limit:
            break
        if rec not in picked:
            picked.append(rec)
    return picked[:limit]


# --- branches ---------------------------------------------------------------------


def _branch_view(row: m.Branch) -> BranchView:
    return BranchView(
        row.code, row.name, row.city, row.district, row.address, row.phone, dict(row.hours), tuple(row.services)
    )


def _place_key(text: str) -> str:
    key = normalise(text)
    for suffix in ("市", "区", "县"):
        if len(key) > 2 and key.endswith(suffix):
            key = key[: -len(suffix)]
    return key


def find_branches(
    session: Session,
    city: str | None = None,
    district: str | None = None,
    open_at: dt.datetime | None = None,
    service: str | None = None,
) -> list[BranchView]:
    """Branches in a city and district (either may be written loosely), optionally open at a time."""
    views = [_branch_view(r) for r in session.scalars(select(m.Branch).order_by(m.Branch.id))]
    if city:
        key = _place_key(city)
        views = [b for b in views if key in normalise(b.city) or _place_key(b.city) in key]
    if district:
        key = _place_key(district)
        views = [b for b in views if key in normalise(b.district) or _place_key(b.district) in key]
    if service:
        views = [b for b in views if any(service in s for s in b.services)]
    if open_at:
        views = [b for b in views if b.is_open_at(open_at)]
    return views


def get_branch(session: Session, code: str) -> BranchView | None:
    row = session.scalar(select(m.Branch).where(m.Branch.code == code))
    return _branch_view(row) if row else None


def list_cities(session: Session) -> list[str]:
    return list(session.scalars(select(m.Branch.city).distinct().order_by(m.Branch.city)))


# --- FAQ, quality records, bookings --------------------------------------------------


def faq_answer(session: Session, topic: str) -> FaqView | None:
    row = session.scalar(select(m.Faq).where(m.Faq.topic == topic))
    return FaqView(row.topic, row.title, tuple(row.questions), row.answer) if row else None


def list_faqs(session: Session) -> list[FaqView]:
    return [
        FaqView(r.topic, r.title, tuple(r.questions), r.answer)
        for r in session.scalars(select(m.Faq).order_by(m.Faq.id))
    ]


def log_unanswered(
    session: Session,
    conversation_id: str,
    redacted_text: str,
    reason: str,
    intent: str | None = None,
    confidence: float | None = None,
) -> None:
    """Keep a question the assistant could not answer (text already redacted by the caller)."""
    session.add(
        m.UnansweredQuestion(
            conversation_ref=pseudonym(conversation_id),
            text=redacted_text[:2000],
            reason=reason,
            intent=intent,
            confidence=confidence,
        )
    )


def unanswered_summary(session: Session, limit: int = 20) -> list[tuple[str, int]]:
    """Reasons and counts of unanswered questions, most frequent first."""
    stmt = (
        select(m.UnansweredQuestion.reason, func.count())
        .group_by(m.UnansweredQuestion.reason)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [(reason, count) for reason, count in session.execute(stmt)]


#: The prefixes of the codes customers are given: a branch appointment's, a complaint ticket's.
APPOINTMENT_CODE = "YY"
TICKET_CODE = "TS"


def _booking_code(prefix: str) -> str:
    return f"{prefix}{dt.date.today():%y%m%d}{secrets.token_hex(3).upper()}"


@functools.lru_cache(maxsize=4)
def _code_pattern(prefix: str) -> re.Pattern[str]:
    """A code as customers type it: any case, with spaces or dashes between its parts."""
    return re.compile(
        rf"(?<![A-Za-z0-9]){prefix}[\s\-]?(\d{{6}})[\s\-]?([0-9A-Fa-f]{{6}})(?![0-9A-Za-z])", re.IGNORECASE
    )


def booking_codes_in(text: str, prefix: str) -> list[str]:
    """The codes with ``prefix`` a message names, normalised ("ts 261203-a1b2c3" -> "TS261203A1B2C3")."""
    return [f"{prefix}{date}{tail.upper()}" for date, tail in _code_pattern(prefix).findall(text or "")]


def demand_rate(session: Session) -> Decimal | None:
    """The demand deposit rate (the first demand-deposit product's rate without a term): what money
    taken out of a time deposit early earns."""
    for product in list_products(session, category="demand_deposit"):
        for row in product.rates:
            if row.term_months == 0:
                return row.rate
    return None


def book_appointment(
    session: Session, conversation_id: str, branch_code: str, starts_at: dt.datetime, business: str
) -> str:
    """Store an appointment and return its booking code."""
    code = _booking_code(APPOINTMENT_CODE)
    session.add(
        m.Appointment(
            code=code,
            conversation_ref=pseudonym(conversation_id),
            branch_code=branch_code,
            starts_at=starts_at,
            business=business,
        )
    )
    return code


def lodge_complaint(
    session: Session, conversation_id: str, category: str, redacted_description: str, masked_contact: str | None
) -> str:
    """Store a complaint (already redacted by the caller) and return its reference."""
    code = _booking_code(TICKET_CODE)
    session.add(
        m.Complaint(
            code=code,
            conversation_ref=pseudonym(conversation_id),
            category=category,
            description=redacted_description[:4000],
            contact=masked_contact,
            status="open",
            contact_preference="phone" if masked_contact else "online",
        )
    )
    return code
