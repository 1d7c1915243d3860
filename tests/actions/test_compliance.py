"""No wording anywhere promises returns on a risky product."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

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


# --- what the customer reads, over every product -------------------------------------------

#: A claim that a product is covered by deposit insurance ("不受存款保险保障" is not one).
DEPOSIT_INSURANCE_CLAIM = re.compile(r"(?<![不非])(受《?存款保险条例》?保护|受存款保险(保护|保障)|纳入存款保险)")


def rendered(dispatcher, domain) -> str:
    """The texts the customer reads, filled as Rasa fills the domain's responses."""
    out = []
    for message in dispatcher.messages:
        name = message.get("response")
        values = {k: v for k, v in message.items() if k not in ("response", "buttons")}
        out.append(domain["responses"][name][0]["text"].format(**values) if name else message.get("text") or "")
    return "\n".join(out)


def _is_deposit(product) -> bool:
    from actions.products import is_deposit

    return is_deposit(product)


@pytest.mark.parametrize("aspect", ["info", "rate", "fees", "eligibility", "documents", "risk", "maturity", "apply"])
async def test_deposit_insurance_is_claimed_for_deposits_only(aspect, domain, tracker_for):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.common import Wording, kb_session
    from actions.products import answer
    from knowledge import queries as q

    w = Wording(domain)
    wrong, deposits_told = [], 0
    with kb_session() as s:
        for p in q.list_products(s):
            d = CollectingDispatcher()
            answer(aspect, s, p, tracker_for("", "ask_product_info"), d, w)
            text = rendered(d, domain)
            if DEPOSIT_INSURANCE_CLAIM.search(text):
                if _is_deposit(p):
                    deposits_told += 1
                else:
                    wrong.append((p.code, aspect))
    assert not wrong, f"deposit insurance claimed for products that are not deposits: {wrong}"
    if aspect == "risk":
        assert deposits_told >= 5, "deposits are told that they are protected"


async def test_recommendations_claim_deposit_insurance_for_deposits_only(domain, tracker_for):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.common import Wording, kb_session
    from actions.recommend import show_recommendations
    from knowledge import models as m
    from knowledge.schema import GOALS

    w = Wording(domain)
    wrong = []
    with kb_session() as s:
        segments = [seg.code for seg in s.scalars(select(m.Segment))]
        for segment in segments:
            for goal in GOALS:
                for tolerance in ("C1", "C3", "C5"):
                    d = CollectingDispatcher()
                    slots = {
                        "segment": segment,
                        "goal": goal,
                        "amount": 500000,
                        "term": 36,
                        "risk_tolerance": tolerance,
                    }
                    show_recommendations(s, tracker_for("", "inform", slots=slots), d, w)
                    for message in d.messages:
                        if message.get("response") != "utter_recommendation_item":
                            continue
                        text = domain["responses"]["utter_recommendation_item"][0]["text"].format(
                            **{k: v for k, v in message.items() if k != "response"}
                        )
                        from knowledge import queries as q

                        product = next(p for p in q.list_products(s) if p.name == message["name"])
                        if DEPOSIT_INSURANCE_CLAIM.search(text) and not _is_deposit(product):
                            wrong.append((segment, goal, product.code))
    assert not wrong, f"recommendation reasons claim deposit insurance for non-deposits: {sorted(set(wrong))}"


def test_risk_levels_are_named_one_way_everywhere(domain):
    """C4 is 成长型 in every answer, disclosure and product text, as the questionnaire's result says."""
    labels = {f"C{i}": domain["responses"][f"fmt_tolerance_C{i}"][0]["text"] for i in range(1, 6)}
    names = "|".join(
        sorted(set(labels.values()) | {"积极型", "激进型", "进取型", "成长型", "稳健型", "平衡型", "保守型"})
    )
    seed = ROOT / "knowledge" / "seed"
    texts = [p.read_text(encoding="utf-8") for p in seed.rglob("*.yml") if p.name != "disclosures.yml"]
    texts.append((ROOT / "domain.yml").read_text(encoding="utf-8"))
    in_force: dict[tuple, dict] = {}  # superseded versions stay as they were shown (audit)
    for d in yaml.safe_load((seed / "disclosures.yml").read_text(encoding="utf-8"))["disclosures"]:
        key = (d["risk_level"], d["category"])
        if key not in in_force or str(d["effective_date"]) > str(in_force[key]["effective_date"]):
            in_force[key] = d
    texts += [d["text"] for d in in_force.values()]
    wrong = []
    for text in texts:
        for m in re.finditer(rf"({names})（(C[1-5])）|(C[1-5])（({names})）", text):
            level, name = (m.group(2), m.group(1)) if m.group(1) else (m.group(3), m.group(4))
            if labels[level] != name:
                wrong.append(m.group(0))
    assert not wrong, f"risk levels named differently from the questionnaire's result: {sorted(set(wrong))}"
