"""No wording anywhere promises returns on a risky product."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from knowledge.schema import PROMISE_PHRASES

ROOT = Path(__file__).resolve().parents[2]
#: A promise phrase is allowed only when negated ("不等于无风险", "并非保本保息").
NEGATED = re.compile("(不|非|并非|没有|无法|不等于|不代表|不是)[^。，,]{0,6}$")


def _promises(text: str) -> list[str]:
    found = []
    for phrase in PROMISE_PHRASES:
        for match in re.finditer(re.escape(phrase), text):
            if not NEGATED.search(text[: match.start()]):
                found.append(phrase)
    return found


def _response_texts(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for name, variants in (data.get("responses") or {}).items():
        for variant in variants:
            yield f"{path.name}:{name}", variant.get("text", "")


def test_domain_and_generated_responses_promise_nothing():
    bad = [
        (where, _promises(text))
        for path in (ROOT / "domain.yml", ROOT / "data" / "nlu" / "faq.yml")
        for where, text in _response_texts(path)
        if _promises(text)
    ]
    assert not bad, bad


def test_seed_texts_above_r1_promise_nothing(seed):
    bad = [(p.code, t) for _, p in seed.products if p.risk_level != "R1" for t in p.texts() if _promises(t)]
    bad += [(d.code, d.text) for d in seed.disclosures if _promises(d.text)]
    bad += [(f.topic, f.answer) for f in seed.faqs if _promises(f.answer)]
    assert not bad, bad


def test_the_scan_catches_a_promise():
    assert _promises("这款理财稳赚不赔") and not _promises("理财产品不等于无风险")
