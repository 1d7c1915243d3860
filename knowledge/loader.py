"""Load a seed folder into the knowledge base: validate everything, then write once.

``read_seed`` parses and validates every file and cross-checks them; nothing
touches the database until the whole folder is known to be good. ``apply_seed``
then upserts by stable code inside the caller's transaction, so a failure
leaves the database exactly as it was and a second run changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from knowledge import models as m
from knowledge import schema as s
from knowledge.queries import touch_catalogue
from knowledge.text import normalise

T = TypeVar("T", bound=BaseModel)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with the seed: where it is and what is wrong."""

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = " ".join(part for part in (self.entry, self.field) if part)
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"


class SeedError(Exception):
    """The seed folder is invalid; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclasses.dataclass
class Seed:
    """A validated seed folder."""

    bank: s.BankIn
    categories: list[s.CategoryIn]
    products: list[tuple[str, s.ProductIn]]
    disclosures: list[s.DisclosureIn]
    segments: list[s.SegmentIn]
    branches: list[s.BranchIn]
    faqs: list[s.FaqIn]
    desk: s.DeskIn | None = None


_ENTRY_KEYS = ("code", "topic", "name")


def _entry_label(raw: Any, loc: tuple) -> tuple[str, tuple]:
    """Split a pydantic location into 'products[3] (CC-GOLD)' and the field path."""
    if len(loc) >= 2 and isinstance(loc[1], int):
        label = f"{loc[0]}[{loc[1]}]"
        try:
            item = raw[loc[0]][loc[1]]
            key = next((item[k] for k in _ENTRY_KEYS if isinstance(item, dict) and item.get(k)), None)
        except (KeyError, IndexError, TypeError):
            key = None
        return (f"{label} ({key})" if key else label), loc[2:]
    return (str(loc[0]) if loc else ""), loc[1:]


def _field_path(loc: Iterable) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _parse(path: Path, root: Path, model: type[T], problems: list[Problem]) -> T | None:
    rel = path.relative_to(root).as_posix()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problems.append(Problem(rel, where, "", f"not valid YAML ({getattr(exc, 'problem', exc)})"))
        return None
    except UnicodeDecodeError:
        problems.append(Problem(rel, "", "", "not UTF-8 text"))
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(rel, "", "", "expected a mapping at the top of the file"))
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            entry, rest = _entry_label(raw, tuple(err["loc"]))
            message = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(rel, entry, _field_path(rest), message))
        return None


def _duplicates(values: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(key, first owner, second owner) for every key seen twice."""
    seen: dict[str, str] = {}
    dups = []
    for key, owner in values:
        if key in seen and seen[key] != owner:
            dups.append((key, seen[key], owner))
        seen.setdefault(key, owner)
    return dups


def read_seed(root: Path) -> Seed:
    """Parse and validate a seed folder; raise :class:`SeedError` listing every problem."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        raise SeedError([Problem(str(root), "", "", "seed folder not found")])

    def one(name: str, model: type[T]) -> T | None:
        path = root / name
        if not path.is_file():
            problems.append(Problem(name, "", "", "file missing"))
            return None
        return _parse(path, root, model, problems)

    bank = one("bank.yml", s.BankFile)
    categories = one("categories.yml", s.CategoriesFile)
    disclosures = one("disclosures.yml", s.DisclosuresFile)
    segments = one("segments.yml", s.SegmentsFile)
    branches = one("branches.yml", s.BranchesFile)
    faqs = one("faq.yml", s.FaqFile)
    # the staff desk's departments, hours and canned replies; without it the desk has no queues
    desk = _parse(root / "desk.yml", root, s.DeskFile, problems) if (root / "desk.yml").is_file() else None
    product_files = sorted((root / "products").glob("*.yml")) if (root / "products").is_dir() else []
    if not product_files:
        problems.append(Problem("products/", "", "", "no product files (products/*.yml)"))
    products: list[tuple[str, s.ProductIn]] = []
    for path in product_files:
        parsed = _parse(path, root, s.ProductsFile, problems)
        if parsed:
            products += [(path.relative_to(root).as_posix(), p) for p in parsed.products]
    if problems:
        raise SeedError(problems)
    assert bank and categories and disclosures and segments and branches and faqs
    seed = Seed(
        bank=bank.bank,
        categories=categories.categories,
        products=products,
        disclosures=disclosures.disclosures,
        segments=segments.segments,
        branches=branches.branches,
        faqs=faqs.faqs,
        desk=desk.desk if desk else None,
    )
    _cross_check(seed, problems)
    if problems:
        raise SeedError(problems)
    return seed


def _cross_check(seed: Seed, problems: list[Problem]) -> None:
    """Checks that need more than one entry or file."""
    prods = seed.products

    def dup(file: str, kind: str, pairs: list[tuple[str, str]], what: str) -> None:
        for key, first, second in _duplicates(pairs):
            problems.append(Problem(file, f"{kind} ({second})", what, f"'{key}' is also used by {first}"))

    for key, first, second in _duplicates([(p.code, f) for f, p in prods]):
        problems.append(Problem(second, f"products ({key})", "code", f"duplicate product code (also in {first})"))
    names = [(normalise(p.name), p.code) for _, p in prods]
    aliases = [(normalise(a), p.code) for _, p in prods for a in p.aliases]
    file_of = {p.code: f for f, p in prods}
    for key, first, second in _duplicates(names + aliases):
        problems.append(
            Problem(file_of[second], f"products ({second})", "aliases", f"name or alias '{key}' also names {first}")
        )
    have = {c.code for c in seed.categories}
    missing = [c for c in s.CATEGORY_CODES if c not in have]
    if missing:
        problems.append(Problem("categories.yml", "", "categories", f"missing categories: {', '.join(missing)}"))
    dup("categories.yml", "categories", [(c.code, c.code) for c in seed.categories if True], "code")
    dup(
        "categories.yml",
        "categories",
        [(normalise(w), c.code) for c in seed.categories for w in c.synonyms],
        "synonyms",
    )
    dup("segments.yml", "segments", [(normalise(w), g.code) for g in seed.segments for w in g.synonyms], "synonyms")
    seg_codes = [g.code for g in seed.segments]
    for code in set(seg_codes):
        if seg_codes.count(code) > 1:
            problems.append(Problem("segments.yml", f"segments ({code})", "code", "duplicate segment code"))
    dup("branches.yml", "branches", [(b.code, f"#{i}") for i, b in enumerate(seed.branches)], "code")
    dup("disclosures.yml", "disclosures", [(d.code, f"#{i}") for i, d in enumerate(seed.disclosures)], "code")
    dup(
        "disclosures.yml",
        "disclosures",
        [(f"{d.risk_level}/{d.category or '*'}/{d.version}", d.code) for d in seed.disclosures],
        "version",
    )
    dup("faq.yml", "faqs", [(q.topic, f"#{i}") for i, q in enumerate(seed.faqs)], "topic")
    topics = {q.topic for q in seed.faqs}
    for topic in seed.desk.specialist_topics if seed.desk else []:
        if topic not in topics:
            problems.append(Problem("desk.yml", "desk", "specialist_topics", f"no FAQ topic {topic!r} in faq.yml"))
    if seed.desk:
        dup("desk.yml", "departments", [(d.code, f"#{i}") for i, d in enumerate(seed.desk.departments)], "code")
    general = {d.risk_level for d in seed.disclosures if d.category is None}
    for f, p in prods:
        if p.risk_level and p.risk_level not in general:
            problems.append(
                Problem(
                    f,
                    f"products ({p.code})",
                    "risk_level",
                    f"no general disclosure for {p.risk_level} in disclosures.yml",
                )
            )


def _upsert(session: Session, model: type, key: str, value: str, stats: dict[str, int]) -> Any:
    row = session.scalar(select(model).where(getattr(model, key) == value))
    if row is None:
        row = model(**{key: value})
        session.add(row)
        stats["created"] += 1
    else:
        stats["kept"] += 1
    return row


def _sync_children(rows: list, items: list[dict], model: type, order_field: str = "position") -> None:
    """Make a child collection hold ``items`` in order, updating rows in place.

    Rows keep their ids when a reload changes nothing, so a reload is a no-op.
    """
    for position, values in enumerate(items):
        values = {**values, order_field: position}
        if position < len(rows):
            for field, value in values.items():
                if getattr(rows[position], field) != value:
                    setattr(rows[position], field, value)
        else:
            rows.append(model(**values))
    del rows[len(items) :]


def _prune(session: Session, model: type, key: str, keep: set[str]) -> int:
    result = session.execute(delete(model).where(getattr(model, key).not_in(keep or {""})))
    return result.rowcount or 0


def apply_seed(session: Session, seed: Seed) -> dict[str, dict[str, int]]:
    """Upsert a validated seed by code and remove catalogue rows it no longer has.

    Runs inside the caller's transaction; returns counts per table.
    """
    report: dict[str, dict[str, int]] = {}

    def stats(name: str) -> dict[str, int]:
        return report.setdefault(name, {"created": 0, "kept": 0, "removed": 0})

    b = seed.bank
    bank = _upsert(session, m.Bank, "code", b.code, stats("bank"))
    for field, value in b.model_dump(exclude={"code", "brands"}).items():
        setattr(bank, field, value)
    stats("bank")["removed"] = _prune(session, m.Bank, "code", {b.code})

    categories = {}
    for c in seed.categories:
        row = _upsert(session, m.Category, "code", c.code, stats("categories"))
        row.name, row.description, row.synonyms = c.name, c.description, list(c.synonyms)
        categories[c.code] = row

    segments = {}
    for g in seed.segments:
        row = _upsert(session, m.Segment, "code", g.code, stats("segments"))
        row.name, row.description, row.synonyms = g.name, g.description, list(g.synonyms)
        _sync_children(row.rules, [r.model_dump() for r in g.rules], m.RecommendationRule, order_field="priority")
        segments[g.code] = row
    stats("segments")["removed"] = _prune(session, m.Segment, "code", set(segments))

    # Aliases are unique across products: first drop every alias that is not
    # staying with the same product, so that one moving between products cannot
    # collide with itself; the rest keep their rows.
    wanted = {(p.code, normalise(a)) for _, p in seed.products for a in p.aliases}
    for alias in session.scalars(select(m.ProductAlias).options(selectinload(m.ProductAlias.product))):
        if (alias.product.code, alias.alias_key) not in wanted:
            session.delete(alias)
    session.flush()
    for _, p in seed.products:
        row = _upsert(session, m.Product, "code", p.code, stats("products"))
        row.name, row.name_key = p.name, normalise(p.name)
        row.category = categories[p.category]
        row.summary, row.features, row.goals = p.summary, list(p.features), list(p.goals)
        row.risk_level = p.risk_level
        row.min_amount, row.max_amount = p.min_amount, p.max_amount
        row.min_term_months, row.max_term_months = p.min_term_months, p.max_term_months
        row.currency = p.currency
        row.eligibility, row.documents = list(p.eligibility), list(p.documents)
        row.apply_channels, row.apply_steps = list(p.apply_channels), list(p.apply_steps)
        row.maturity, row.auto_renew, row.early_withdrawal = p.maturity, p.auto_renew, p.early_withdrawal
        row.rate_effective_date = p.rates.effective_date if p.rates else None
        row.rate_kind = p.rates.kind if p.rates else None
        row.rate_note = p.rates.note if p.rates else None
        _sync_children(row.rates, [r.model_dump() for r in (p.rates.rows if p.rates else [])], m.RateRow)
        _sync_children(row.fees, [fee.model_dump() for fee in p.fees], m.Fee)
        existing = {a.alias_key: a for a in row.aliases}
        for position, alias in enumerate(p.aliases):
            key = normalise(alias)
            if key in existing:
                existing[key].alias, existing[key].position = alias, position
            else:
                row.aliases.append(m.ProductAlias(alias=alias, alias_key=key, position=position))
        row.segments = [segments[code] for code in p.segments if code in segments]
    stats("products")["removed"] = _prune(session, m.Product, "code", {p.code for _, p in seed.products})
    stats("categories")["removed"] = _prune(session, m.Category, "code", set(categories))

    for d in seed.disclosures:
        row = _upsert(session, m.Disclosure, "code", d.code, stats("disclosures"))
        row.risk_level, row.category_code, row.version = d.risk_level, d.category, d.version
        row.effective_date, row.title, row.text = d.effective_date, d.title, d.text
    stats("disclosures")["removed"] = _prune(session, m.Disclosure, "code", {d.code for d in seed.disclosures})

    for br in seed.branches:
        row = _upsert(session, m.Branch, "code", br.code, stats("branches"))
        for field, value in br.model_dump(exclude={"code"}).items():
            setattr(row, field, value)
        row.hours = {day: br.hours.get(day) for day in s.WEEKDAYS}
    stats("branches")["removed"] = _prune(session, m.Branch, "code", {br.code for br in seed.branches})

    for q in seed.faqs:
        row = _upsert(session, m.Faq, "topic", q.topic, stats("faqs"))
        row.title, row.questions, row.answer = q.title, list(q.questions), q.answer
    stats("faqs")["removed"] = _prune(session, m.Faq, "topic", {q.topic for q in seed.faqs})

    desk = seed.desk
    if desk is not None:
        setting = _upsert(session, m.DeskSetting, "code", "desk", stats("desk"))
        for field, value in desk.model_dump(exclude={"departments", "canned_replies"}).items():
            setattr(setting, field, value)
    stats("desk")["removed"] = _prune(session, m.DeskSetting, "code", {"desk"} if desk else set())
    for position, d in enumerate(desk.departments if desk else []):
        row = _upsert(session, m.DeskDepartment, "code", d.code, stats("desk_departments"))
        row.name, row.position = d.name, position
        row.product_types, row.intents, row.segments = list(d.product_types), list(d.intents), list(d.segments)
    stats("desk_departments")["removed"] = _prune(
        session, m.DeskDepartment, "code", {d.code for d in desk.departments} if desk else set()
    )
    for position, c in enumerate(desk.canned_replies if desk else []):
        row = _upsert(session, m.CannedReply, "code", c.code, stats("canned_replies"))
        row.title, row.text, row.position = c.title, c.text, position
    stats("canned_replies")["removed"] = _prune(
        session, m.CannedReply, "code", {c.code for c in desk.canned_replies} if desk else set()
    )
    session.flush()
    if any(report[table]["removed"] for table in ("bank", "segments", "products", "categories")):
        touch_catalogue(session)  # bulk deletes bypass the ORM, which notices every other change
    return report
