"""Queries over the seeded knowledge base, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import opencc
import pytest
from sqlalchemy import select

from knowledge import models as m
from knowledge import queries as q

S2T = opencc.OpenCC("s2t")


def _by_code(seed, code):
    return next(p for _, p in seed.products if p.code == code)


def _aliased(seed):
    return next(p for _, p in seed.products if p.aliases)


def test_exact_name_and_alias(session, seed):
    product = _aliased(seed)
    assert q.find_products(session, product.name)[0].product.code == product.code
    match = q.find_products(session, product.aliases[0])[0]
    assert (match.product.code, match.how) == (product.code, "exact")


@pytest.mark.parametrize("variant", ["spaced", "traditional", "fullwidth_punct", "in_a_sentence", "partial"])
def test_tolerant_lookup(session, seed, variant):
    # a product whose name is long enough to have a meaningful part
    product = max((p for _, p in seed.products), key=lambda p: len(p.name))
    text = {
        "spaced": " ".join(product.name),
        "traditional": S2T.convert(product.name),
        "fullwidth_punct": f"「{product.name}」？",
        "in_a_sentence": f"请问{product.name}的年费多少",
        "partial": product.name[2:-1],
    }[variant]
    codes = [m.product.code for m in q.find_products(session, text)]
    assert product.code in codes[:3], (variant, text, codes)


def test_typo_finds_the_closest_name(session, seed):
    product = max((p for _, p in seed.products), key=lambda p: len(p.name))
    typo = product.name[:-2] + "X" + product.name[-1]
    assert q.find_products(session, typo)[0].product.code == product.code


def test_nothing_matches_nonsense(session):
    assert q.find_products(session, "火星移民套餐") == []
    assert q.find_products(session, "   ") == []


def test_category_word_lists_candidates(session):
    matches = q.find_products(session, "信用卡")
    assert len(matches) >= 2
    assert {m.product.category for m in matches} == {"credit_card"}


@pytest.mark.parametrize(
    "text,code",
    [
        ("我想问问信用卡", "credit_card"),
        ("房貸利率", "mortgage"),
        ("大额存单起存多少", "certificate_of_deposit"),
        ("手機銀行", "e_banking"),
        ("基金", "fund"),
    ],
)
def test_find_category(session, text, code):
    assert q.find_category(session, text).code == code


def test_list_by_category_segment_and_risk(session):
    cards = q.list_products(session, category="credit_card")
    assert cards and all(p.category == "credit_card" for p in cards)
    retiree = q.list_products(session, segment="retiree")
    assert len(retiree) >= 4 and all("retiree" in p.segments for p in retiree)
    cautious = q.list_products(session, category="fund", max_risk="R2")
    assert cautious and all(p.risk_rank <= 2 for p in cautious)


def test_rate_for_term(session, seed):
    product = next(p for _, p in seed.products if p.category == "time_deposit" and p.rates and len(p.rates.rows) > 2)
    row = next(r for r in product.rates.rows if r.term_months)
    quote = q.rate_for_term(session, product.code, row.term_months)
    assert quote.exact and quote.row.rate == row.rate
    longest = max(r.term_months for r in product.rates.rows if r.term_months)
    beyond = q.rate_for_term(session, product.code, longest + 1)
    assert not beyond.exact and beyond.row.term_months == longest
    assert q.rate_for_term(session, "NO-SUCH-CODE", 12) is None


def test_fees_documents_eligibility(session, seed):
    card = next(p for _, p in seed.products if p.category == "credit_card" and p.fees)
    fees = q.product_fees(session, card.code)
    assert [f.name for f in fees] == [f.name for f in card.fees]
    assert q.product_documents(session, card.code) == tuple(card.documents)
    assert q.product_eligibility(session, card.code) == tuple(card.eligibility)


def test_compare_products_uses_attributes_of_the_category(session, seed):
    deposits = [p.code for _, p in seed.products if p.category in ("time_deposit", "certificate_of_deposit")][:2]
    comparison = q.compare_products(session, deposits)
    assert [p.code for p in comparison.products] == deposits
    assert comparison.attributes[0] == "rates" and "early_withdrawal" in comparison.attributes
    card_and_loan = [next(p.code for _, p in seed.products if p.category == c) for c in ("credit_card", "mortgage")]
    attrs = q.compare_products(session, card_and_loan).attributes
    assert "fees" in attrs and "max_amount" in attrs


def test_disclosure_in_force_follows_versions_and_category(session, seed):
    r3 = next(
        p
        for _, p in seed.products
        if p.risk_level == "R3" and p.category not in ("fund", "wealth_management", "insurance")
    )
    versions = sorted(
        (d.effective_date, d.version) for d in seed.disclosures if d.risk_level == "R3" and d.category is None
    )
    assert len(versions) >= 2, "the sample seed keeps two versions of the R3 text"
    old, new = versions[-2], versions[-1]
    assert q.disclosure_for(session, r3.code, on=new[0] - dt.timedelta(days=1)).version == old[1]
    assert q.disclosure_for(session, r3.code, on=new[0]).version == new[1]
    assert q.disclosure_for(session, r3.code, on=dt.date(2000, 1, 1)) is None
    fund = next(p for _, p in seed.products if p.category == "fund" and p.risk_level == "R4")
    assert q.disclosure_for(session, fund.code).category == "fund"


def test_needs_disclosure(session, seed):
    for _, p in seed.products:
        view = q.get_product(session, p.code)
        expected = p.risk_level in ("R3", "R4", "R5") or p.category in ("fund", "wealth_management", "insurance")
        assert view.needs_disclosure == expected, p.code


@pytest.mark.parametrize(
    "segment", ["student", "young_professional", "homemaker", "retiree", "business_owner", "high_net_worth"]
)
@pytest.mark.parametrize("tolerance", ["C1", "C2", "C3", "C4", "C5"])
def test_recommendations_never_exceed_tolerance(session, segment, tolerance):
    recs = q.suitable_products(session, segment, tolerance, goal="saving", amount=200000, term_months=12)
    assert recs, (segment, tolerance)
    assert len(recs) <= 3
    for rec in recs:
        assert rec.product.risk_rank <= int(tolerance[1])
        assert rec.reason.startswith("因为您")


def test_recommendations_respect_amount_and_term(session):
    small = q.suitable_products(session, "retiree", "C2", goal="saving", amount=1000, term_months=12)
    assert all(r.product.min_amount is None or r.product.min_amount <= 1000 for r in small)
    for rec in q.suitable_products(session, "retiree", "C2", goal="saving", amount=300000, term_months=36):
        p = rec.product
        assert not p.max_term_months or p.max_term_months >= 36


def test_suitability(session, seed):
    r4 = next(p for _, p in seed.products if p.risk_level == "R4")
    view = q.get_product(session, r4.code)
    assert not q.suitability(view, "C3").suitable and q.suitability(view, "C4").suitable


def test_branches_by_city_district_and_open_now(session, seed):
    city = seed.branches[0].city
    in_city = q.find_branches(session, city=city + "市")
    assert in_city and all(b.city == city for b in in_city)
    district = seed.branches[0].district
    assert seed.branches[0].code in [
        b.code for b in q.find_branches(session, city=city, district=district.rstrip("区"))
    ]
    sunday = dt.datetime(2026, 11, 29, 11, 0)  # a Sunday
    open_sunday = q.find_branches(session, open_at=sunday)
    expected = {b.code for b in seed.branches if b.hours.get("sun")}
    assert {b.code for b in open_sunday} == expected
    assert q.find_branches(session, open_at=dt.datetime(2026, 11, 30, 3, 0)) == []


def test_faq_answer(session, seed):
    entry = seed.faqs[0]
    assert q.faq_answer(session, entry.topic).answer == entry.answer
    assert q.faq_answer(session, "no_such_topic") is None


def test_records_are_pseudonymous(session, seed):
    product = next(p for _, p in seed.products if p.risk_level == "R3")
    disclosure = q.disclosure_for(session, product.code)
    q.record_disclosure_ack(session, "wechat:oABC123", product.code, disclosure)
    q.log_unanswered(session, "wechat:oABC123", "我的卡号是6222********1234", reason="fallback", intent="nlu_fallback")
    code = q.book_appointment(session, "wechat:oABC123", seed.branches[0].code, dt.datetime(2026, 12, 1, 10), "开户")
    session.flush()
    ack = session.scalar(select(m.DisclosureAcknowledgement))
    assert ack.disclosure_version == disclosure.version and "oABC123" not in ack.conversation_ref
    assert session.scalar(select(m.Appointment.code)) == code
    assert q.unanswered_summary(session) == [("fallback", 1)]


def test_amounts_are_decimal(session, seed):
    product = next(p for _, p in seed.products if p.min_amount)
    assert isinstance(q.get_product(session, product.code).min_amount, Decimal)


# --- the catalogue copy ------------------------------------------------------------


def _statements(url):
    """The SQL statements the engine of ``url`` runs, recorded while the context is open."""
    import contextlib

    from sqlalchemy import event

    from knowledge.db import get_engine

    @contextlib.contextmanager
    def recording():
        seen: list[str] = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(get_engine(url), "before_cursor_execute", record)
        try:
            yield seen
        finally:
            event.remove(get_engine(url), "before_cursor_execute", record)

    return recording()


def test_the_catalogue_is_read_once_until_it_changes(empty_db, seed, tmp_path):
    """Actions answer from a copy of the catalogue while it stays the same, and from the new
    catalogue as soon as a reload or any write changes it (in another session, as the loader
    runs beside the action server)."""
    import shutil

    import yaml

    from knowledge.db import session_scope
    from tests.conftest import SEED as SEED_DIR

    apply_seed_to = lambda folder: _load(empty_db, folder)  # noqa: E731
    apply_seed_to(SEED_DIR)
    card = next(p for _, p in seed.products if p.category == "credit_card" and p.fees)
    with session_scope(empty_db) as s:
        before = q.get_product(s, card.code)
    with _statements(empty_db) as seen, session_scope(empty_db) as s:
        assert q.get_product(s, card.code) == before
        assert q.find_products(s, card.name)[0].product == before
        assert card.code in [p.code for p in q.list_products(s, category="credit_card")]
    assert len(seen) == 1 and "catalogue_stamp" in seen[0], seen  # the stamp, nothing else

    # a reload that changes a fee and drops another product
    folder = tmp_path / "seed"
    shutil.copytree(SEED_DIR, folder)
    path = folder / "products" / "credit_card.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entry = next(p for p in data["products"] if p["code"] == card.code)
    entry["fees"][0]["description"] = "本行新规：首年免年费"
    dropped = next(p["code"] for p in data["products"] if p["code"] != card.code)
    data["products"] = [p for p in data["products"] if p["code"] != dropped]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    apply_seed_to(folder)
    with session_scope(empty_db) as s:
        assert q.get_product(s, card.code).fees[0].description == "本行新规：首年免年费"
        assert q.get_product(s, dropped) is None
        assert dropped not in [p.code for p in q.list_products(s)]

    # a write through the ORM, not the loader
    with session_scope(empty_db) as s:
        row = s.scalar(select(m.Product).where(m.Product.code == card.code))
        row.summary = "改过的介绍"
    with session_scope(empty_db) as s:
        assert q.get_product(s, card.code).summary == "改过的介绍"

    # a database without the stamp (made before it existed): answers read from the rows
    with session_scope(empty_db) as s:
        s.execute(m.CatalogueStamp.__table__.delete())
    with session_scope(empty_db) as s:
        assert q.get_product(s, card.code).summary == "改过的介绍"


def _load(url, folder):
    from knowledge.db import session_scope
    from knowledge.loader import apply_seed, read_seed

    with session_scope(url) as session:
        return apply_seed(session, read_seed(folder))
