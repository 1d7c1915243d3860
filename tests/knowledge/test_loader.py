"""The seed loader: validation before writing, one transaction, idempotent reloads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import inspect, select

from knowledge import models as m
from knowledge.db import get_engine, session_scope
from knowledge.loader import SeedError, apply_seed, read_seed
from knowledge.schema import CATEGORY_CODES, SEGMENT_CODES

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "knowledge" / "seed"


def snapshot(url: str) -> dict:
    """Every row of every table, as plain tuples, for before/after comparisons."""
    engine = get_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def load(url: str, seed_dir: Path = SEED) -> dict:
    seed = read_seed(seed_dir)
    with session_scope(url) as session:
        return apply_seed(session, seed)


def test_sample_seed_covers_the_catalogue(seed):
    categories = [p.category for _, p in seed.products]
    assert len(seed.products) >= 45
    assert {c: categories.count(c) for c in CATEGORY_CODES if categories.count(c) < 2} == {}
    assert len(seed.branches) >= 12 and len({b.city for b in seed.branches}) >= 3
    assert {d.risk_level for d in seed.disclosures if d.category is None} == {"R1", "R2", "R3", "R4", "R5"}
    assert sorted(s.code for s in seed.segments) == sorted(SEGMENT_CODES)
    assert len(seed.faqs) >= 40
    rated = {p.risk_level for _, p in seed.products if p.category in ("wealth_management", "fund", "insurance")}
    assert {"R1", "R2", "R3", "R4", "R5"} <= rated | {p.risk_level for _, p in seed.products}


def test_every_sample_file_says_it_is_sample_data():
    for path in sorted(SEED.rglob("*.yml")):
        assert yaml.safe_load(path.read_text(encoding="utf-8")).get("sample_data") is True, path


def test_load_then_reload_changes_nothing(empty_db):
    first = load(empty_db)
    assert first["products"]["created"] >= 45
    before = snapshot(empty_db)
    second = load(empty_db)
    assert second["products"]["created"] == 0 and second["products"]["removed"] == 0
    assert snapshot(empty_db) == before


def test_reload_updates_by_code_and_removes_what_the_seed_dropped(empty_db, tmp_path):
    load(empty_db)
    seed_dir = tmp_path / "seed"
    shutil.copytree(SEED, seed_dir)
    path = seed_dir / "products" / "credit_card.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    kept, dropped = data["products"][0], data["products"][-1]
    kept["summary"] = "新的一句话介绍"
    data["products"] = data["products"][:-1]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with session_scope(empty_db) as s:
        kept_id = s.scalar(select(m.Product.id).where(m.Product.code == kept["code"]))
    report = load(empty_db, seed_dir)
    assert report["products"]["removed"] == 1
    with session_scope(empty_db) as s:
        row = s.scalar(select(m.Product).where(m.Product.code == kept["code"]))
        assert (row.id, row.summary) == (kept_id, "新的一句话介绍")
        assert s.scalar(select(m.Product).where(m.Product.code == dropped["code"])) is None


def _edit(seed_dir: Path, rel: str, change) -> None:
    path = seed_dir / rel
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _first_product(data):
    return data["products"][0]


def _set(key, value):
    def change(data):
        _first_product(data)[key] = value

    return change


def _write_raw(text):
    def change(seed_dir: Path):
        (seed_dir / "products" / "credit_card.yml").write_text(text, encoding="utf-8")

    return change


def _cross_file_duplicate_code(seed_dir: Path):
    card = yaml.safe_load((seed_dir / "products" / "credit_card.yml").read_text(encoding="utf-8"))
    code = card["products"][0]["code"]
    _edit(seed_dir, "products/debit_card.yml", lambda d: d["products"][0].update(code=code))


def _alias_clash(seed_dir: Path):
    card = yaml.safe_load((seed_dir / "products" / "credit_card.yml").read_text(encoding="utf-8"))
    name = card["products"][0]["name"]
    _edit(seed_dir, "products/debit_card.yml", lambda d: d["products"][0].update(aliases=[f" {name} "]))


BAD_SEEDS = {
    "broken YAML": (
        _write_raw("sample_data: true\nproducts:\n  - code: [unclosed\n"),
        ["products/credit_card.yml", "not valid YAML"],
    ),
    "missing field": (
        lambda d: _edit(d, "products/credit_card.yml", lambda x: _first_product(x).pop("summary")),
        ["products/credit_card.yml", "products[0]", "summary", "Field required"],
    ),
    "misspelt field": (
        lambda d: _edit(d, "products/credit_card.yml", _set("sumary", "x")),
        ["products[0]", "sumary", "Extra inputs"],
    ),
    "unknown category": (
        lambda d: _edit(d, "products/credit_card.yml", _set("category", "crypto")),
        ["products[0]", "category"],
    ),
    "risk level out of range": (
        lambda d: _edit(d, "products/fund.yml", _set("risk_level", "R6")),
        ["products/fund.yml", "risk_level"],
    ),
    "rated product without risk level": (
        lambda d: _edit(d, "products/fund.yml", _set("risk_level", None)),
        ["products/fund.yml", "risk_level is required"],
    ),
    "negative rate": (
        lambda d: _edit(
            d, "products/time_deposit.yml", lambda x: _first_product(x)["rates"]["rows"][0].update(rate=-1)
        ),
        ["products/time_deposit.yml", "rates.rows[0].rate"],
    ),
    "rate row without term or label": (
        lambda d: _edit(
            d, "products/time_deposit.yml", lambda x: _first_product(x)["rates"]["rows"].append({"rate": 1.0})
        ),
        ["rates.rows", "term_months or label"],
    ),
    "unknown segment": (
        lambda d: _edit(d, "products/credit_card.yml", _set("segments", ["astronaut"])),
        ["products[0]", "segments[0]"],
    ),
    "duplicate code across files": (
        _cross_file_duplicate_code,
        ["products/debit_card.yml", "duplicate product code", "credit_card.yml"],
    ),
    "alias names another product": (_alias_clash, ["products/debit_card.yml", "aliases", "also names"]),
    "min above max": (
        lambda d: _edit(
            d, "products/consumer_loan.yml", lambda x: _first_product(x).update(min_amount=10**9, max_amount=10)
        ),
        ["products/consumer_loan.yml", "min_amount is larger"],
    ),
    "promise of returns on a risky product": (
        lambda d: _edit(
            d,
            "products/fund.yml",
            lambda x: [p.update(summary="稳赚不赔的好产品") for p in x["products"] if p["risk_level"] != "R1"],
        ),
        ["products/fund.yml", "promises returns"],
    ),
    "bad opening hours": (
        lambda d: _edit(d, "branches.yml", lambda x: x["branches"][0]["hours"].update(mon="17:00-09:00")),
        ["branches.yml", "branches[0]", "hours", "closes at"],
    ),
    "bad date": (
        lambda d: _edit(d, "disclosures.yml", lambda x: x["disclosures"][0].update(effective_date="2025-13-01")),
        ["disclosures.yml", "disclosures[0]", "effective_date"],
    ),
    "duplicate FAQ topic": (
        lambda d: _edit(d, "faq.yml", lambda x: x["faqs"].append(dict(x["faqs"][0]))),
        ["faq.yml", "topic"],
    ),
    "FAQ topic trained as an intent no action answers with it": (
        lambda d: _edit(d, "faq.yml", lambda x: x["faqs"][0].update(intent="ask_branch")),
        ["faq.yml", "faqs[0]", "intent"],
    ),
    "missing file": (lambda d: (d / "segments.yml").unlink(), ["segments.yml", "file missing"]),
    "missing category": (
        lambda d: _edit(d, "categories.yml", lambda x: x["categories"].pop()),
        ["categories.yml", "missing categories"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SEEDS))
def test_bad_seed_is_refused_and_database_unchanged(case, empty_db, tmp_path):
    load(empty_db)
    before = snapshot(empty_db)
    seed_dir = tmp_path / "seed"
    shutil.copytree(SEED, seed_dir)
    mutate, expected = BAD_SEEDS[case]
    mutate(seed_dir)
    with pytest.raises(SeedError) as err:
        load(empty_db, seed_dir)
    message = str(err.value)
    for part in expected:
        assert part in message, f"{case}: '{part}' not in:\n{message}"
    assert snapshot(empty_db) == before


def test_failure_while_writing_rolls_everything_back(empty_db, monkeypatch):
    load(empty_db)
    before = snapshot(empty_db)
    seed = read_seed(SEED)
    seed.products[0][1].__dict__["summary"] = "改过的介绍"
    import knowledge.loader as loader

    real_prune = loader._prune

    def failing_prune(session, model, key, keep):
        if model is m.Faq:
            raise RuntimeError("disk full")
        return real_prune(session, model, key, keep)

    monkeypatch.setattr(loader, "_prune", failing_prune)
    with pytest.raises(RuntimeError), session_scope(empty_db) as session:
        apply_seed(session, seed)
    assert snapshot(empty_db) == before


def test_cli_loads_and_reports_problems(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ok = subprocess.run(
        [sys.executable, "-m", "knowledge", "load", "--db", url], cwd=ROOT, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "products" in ok.stdout and "created" in ok.stdout
    bad = tmp_path / "bad"
    shutil.copytree(SEED, bad)
    _edit(bad, "products/credit_card.yml", _set("category", "crypto"))
    refused = subprocess.run(
        [sys.executable, "-m", "knowledge", "load", "--db", url, str(bad)], cwd=ROOT, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "products/credit_card.yml: products[0]" in refused.stderr and "nothing was written" in refused.stderr


def test_schema_has_the_operational_tables(empty_db):
    tables = set(inspect(get_engine(empty_db)).get_table_names())
    assert {"disclosure_ack", "unanswered_question", "appointment", "complaint"} <= tables


def test_a_topic_the_contract_gives_another_intent_trains_that_intent(seed, tmp_path):
    """A card swallowed by an ATM is report_lost_card in the NLU contract: the topic's questions
    train that intent, and its answer stays a response the lost-card action utters."""
    from knowledge.export import export_nlu

    export_nlu(seed, tmp_path)
    exported = yaml.safe_load((tmp_path / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))
    by_intent = {item["intent"]: item["examples"] for item in exported["nlu"]}
    retained = next(f for f in seed.faqs if f.topic == "atm_retained_card")
    assert retained.intent == "report_lost_card"
    assert "faq/atm_retained_card" not in by_intent
    assert "- ATM吞卡了怎么办\n" in by_intent["report_lost_card"]
    assert exported["responses"]["utter_faq/atm_retained_card"][0]["text"] == retained.answer.strip()
    assert by_intent["faq/transfer_limit"]  # the rest stay retrieval FAQ


def test_a_data_edit_changes_no_other_sentence_s_bank_reference_variant(seed, tmp_path):
    """Relabelling or removing one hand-written example used to reshuffle the whole generated
    bank_references.yml (one random stream over all sentences): 400 sentences changed, every shipped
    sentence vector of them went stale, and measurements moved for no reason. Each sentence's variant
    now depends on that sentence alone."""
    from knowledge.export import bank_reference_variants

    nlu = tmp_path / "nlu"
    nlu.mkdir()
    lines = [f"我想问一下信用卡{i}号的年费" for i in range(40)] + [f"定期{i}年利率多少" for i in range(40)]

    def write(examples: list[str]) -> dict[str, set[str]]:
        body = "".join(f"    - {line}\n" for line in examples)
        (nlu / "consultation.yml").write_text(f"nlu:\n- intent: ask_fees\n  examples: |\n{body}", encoding="utf-8")
        return {line for lines in bank_reference_variants(seed, nlu).values() for line in lines}

    before = write(lines)
    after = write(lines[1:])  # the first example moved to another file
    assert before - after <= {v for v in before if "信用卡0号" in v}
    assert after <= before
    ours = {v for v in before & after if "号的年费" in v or "年利率多少" in v}
    assert 10 < len(ours) < len(lines)  # about half the sentences get a variant


def test_a_new_alias_changes_only_the_product_mentions_that_name_it(seed):
    """One alias added to one product used to re-draw every generated product-mention example
    (one random stream over all names): about a thousand lines of training data moved, the model
    with them. Each filling now has its own place, so the examples that change are those naming
    the new alias and as many as they displace."""
    import dataclasses

    from knowledge.export import TEMPLATES, product_mention_examples

    code, product = seed.products[0]
    grown = dataclasses.replace(
        seed,
        products=[(code, product.model_copy(update={"aliases": [*product.aliases, "澜澜新宝"]})), *seed.products[1:]],
    )
    before, after = product_mention_examples(seed), product_mention_examples(grown)
    assert before.keys() == after.keys()
    named = 0
    for intent, examples in before.items():
        assert len(after[intent]) == len(examples) == 60
        gained = set(after[intent]) - set(examples)
        lost = set(examples) - set(after[intent])
        assert all("[澜澜新宝](product)" in e for e in gained)  # nothing else was re-drawn
        assert len(lost) == len(gained)
        named += len(gained)
    assert 0 < named < 60  # the new alias is taught, and most of the file did not move
    templates = yaml.safe_load(TEMPLATES.read_text(encoding="utf-8"))["intents"]
    for intent, lines in templates.items():  # every template gives examples
        used = {line for line in lines for e in before[intent] if _filled(line, e)}
        assert len(used) == len(set(lines)), intent


def _filled(template: str, example: str) -> bool:
    pattern = re.escape(template).replace(r"\{product\}", r"\[[^\]]+\]\(product\)")
    return re.fullmatch(pattern.replace(r"\{product2\}", r"\[[^\]]+\]\(product\)"), example) is not None
