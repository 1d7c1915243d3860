"""The training data keeps to the NLU contract and never contains the evaluation questions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.nlu.normaliser import normalise as simplified

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


def normalise(text: str) -> str:
    """Simplified script, no spaces or punctuation: 貸款結清證明怎麼開 and 贷款结清证明怎么开 are one question."""
    return re.sub(r"[\s，。？！?!,.、“”\"'：:；;（）()]+", "", simplified(text))


def training_examples():
    for path in sorted((ROOT / "data").rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu", []) or []:
            if "intent" not in item:
                continue
            for line in item["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield path.relative_to(ROOT).as_posix(), item["intent"], ANNOTATION.sub(r"\1\2", line[2:])


@pytest.fixture(scope="module")
def examples():
    return list(training_examples())


#: The team's own validation set (tests/nlu_validation/): written apart from the training data
#: to choose models on, so it is kept out of data/ exactly like the real questions.
OWN_VALIDATION = sorted((ROOT / "tests" / "nlu_validation").glob("*.tsv"))


def real_questions() -> list[str]:
    """The normalised text of every held-out question: the shared evaluation files and our own validation sets."""
    eval_files = sorted((SHARED / "eval").glob("*.tsv"))
    assert eval_files, "the shared evaluation set must be beside the project (../shared/eval)"
    return [
        normalise(row.split("\t")[0])
        for path in [*eval_files, *OWN_VALIDATION]
        for row in path.read_text(encoding="utf-8").splitlines()[1:]
    ]


def test_no_real_evaluation_question_is_in_the_training_data(examples):
    real = {text for text in real_questions() if len(text) >= 6}
    leaked = [(f, t) for f, _, t in examples if normalise(t) in real]
    assert not leaked, f"evaluation questions copied into training data: {leaked[:5]}"


def test_the_shipped_sentence_vectors_hold_no_evaluation_question():
    """bot/resources/e5/ ships texts beside their vectors: only training sentences, never a held-out question
    (the vectors cached on a machine after `make eval` do hold them; those stay in var/)."""
    import numpy as np

    from bot.nlu.e5_featurizer import SHIPPED

    with np.load(SHIPPED / "query-vectors.npz", allow_pickle=False) as stored:
        shipped = {normalise(text) for text in stored["texts"].tolist()}
    real = {text for text in real_questions() if len(text) >= 6}
    assert len(shipped) > 10_000
    leaked = sorted(shipped & real)
    assert not leaked, f"evaluation questions in the shipped vectors: {leaked[:5]}"


def trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def test_no_training_example_is_a_near_copy_of_an_evaluation_question(examples):
    """Edited copies count too: no example shares 70 % of its character trigrams with a real question."""
    real = [grams for grams in map(trigrams, real_questions()) if len(grams) >= 4]
    index: dict[str, list[int]] = {}
    for i, grams in enumerate(real):
        for g in grams:
            index.setdefault(g, []).append(i)
    near = []
    for f, _, t in examples:
        grams = trigrams(normalise(t))
        if len(grams) < 4:
            continue
        shared: dict[int, int] = {}
        for g in grams:
            for i in index.get(g, ()):
                shared[i] = shared.get(i, 0) + 1
        if any(n / len(grams | real[i]) >= 0.7 for i, n in shared.items()):
            near.append(f)
    assert (
        not near
    ), f"{len(near)} training examples are near-copies of evaluation questions (files: {sorted(set(near))})"


def test_every_contract_intent_has_examples_and_a_path():
    spec = yaml.safe_load((SHARED / "spec" / "intents.yml").read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for _, intent, _ in training_examples():
        counts[intent.split("/")[0]] = counts.get(intent.split("/")[0], 0) + 1
    consultation = {
        "ask_product_info",
        "ask_interest_rate",
        "ask_fees",
        "ask_eligibility",
        "ask_required_documents",
        "ask_risk",
        "compare_products",
        "ask_recommendation",
        "apply_product",
    }
    for intent in spec["intents"]:
        assert counts.get(intent, 0) >= (80 if intent in consultation else 40), intent
    first_steps = set()
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            steps = rule["steps"]
            if steps and "intent" in steps[0] and not rule.get("condition"):
                first_steps.add(steps[0]["intent"])
    missing = [i for i in spec["intents"] if i not in first_steps and i not in ("affirm", "deny")]
    assert not missing, f"intents without a rule: {missing}"


def test_no_example_has_two_intents(examples):
    seen: dict[str, set] = {}
    for _, intent, text in examples:
        seen.setdefault(normalise(text), set()).add(intent.split("/")[0])
    conflicts = {t: i for t, i in seen.items() if len(i) > 1}
    assert not conflicts, list(conflicts.items())[:5]


def test_faq_topics_the_contract_gives_another_intent_train_that_intent(examples):
    """A topic with ``intent:`` in the knowledge seed (a card an ATM kept is report_lost_card,
    the bank's channels are ask_contact) is never written as faq/<topic> (docs/nlu-boundaries.md)."""
    seed = yaml.safe_load((ROOT / "knowledge" / "seed" / "faq.yml").read_text(encoding="utf-8"))
    moved = {f"faq/{f['topic']}": f["intent"] for f in seed["faqs"] if f.get("intent", "faq") != "faq"}
    assert {"faq/atm_retained_card": "report_lost_card"}.items() <= moved.items()
    wrong = [(path, intent, text) for path, intent, text in examples if intent in moved]
    assert not wrong, wrong[:5]


def test_entity_values_are_canonical(examples):
    spec = yaml.safe_load((SHARED / "spec" / "intents.yml").read_text(encoding="utf-8"))
    allowed = {name: set(e["values"]) for name, e in spec["entities"].items() if "values" in e}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for match in re.finditer(r"\]\{([^}]*)\}", path.read_text(encoding="utf-8")):
            annotation = yaml.safe_load("{" + match.group(1) + "}")
            if annotation.get("entity") in allowed:
                assert annotation["value"] in allowed[annotation["entity"]], (path.name, annotation)
