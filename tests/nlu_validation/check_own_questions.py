"""Check tests/nlu_validation/own_questions.tsv: 3 tab-separated fields, contract intents, canonical product types.

Standard library only: python3 tests/nlu_validation/check_own_questions.py
The intent and product_type names are those of the NLU contract (shared/spec/intents.yml).
"""

import collections
import sys
from pathlib import Path

TSV = Path(__file__).with_name("own_questions.tsv")

INTENTS = set(
    [
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        "bot_challenge",
        "ask_capabilities",
        "out_of_scope",
        "ask_product_info",
        "ask_interest_rate",
        "ask_fees",
        "ask_eligibility",
        "ask_required_documents",
        "ask_risk",
        "compare_products",
        "ask_recommendation",
        "apply_product",
        "ask_maturity",
        "report_lost_card",
        "report_fraud",
        "ask_branch",
        "ask_contact",
        "book_appointment",
        "complain",
        "request_human",
        "faq",
    ]
)
PRODUCT_TYPES = set(
    [
        "demand_deposit",
        "time_deposit",
        "certificate_of_deposit",
        "debit_card",
        "credit_card",
        "mortgage",
        "consumer_loan",
        "business_loan",
        "student_loan",
        "wealth_management",
        "fund",
        "insurance",
        "precious_metal",
        "forex",
        "e_banking",
        "corporate_settlement",
    ]
)


def main() -> int:
    lines = TSV.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    errors = []
    if lines[0] != "text\tintent\tproduct_type":
        errors.append(f"bad header: {lines[0]!r}")
    seen = {}
    counts = collections.Counter()
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3:
            errors.append(f"line {n}: {len(fields)} fields")
            continue
        text, intent, product_type = fields
        if not text.strip() or text != text.strip():
            errors.append(f"line {n}: empty text or surrounding spaces")
        if intent not in INTENTS:
            errors.append(f"line {n}: unknown intent {intent!r}")
        if product_type != "-" and product_type not in PRODUCT_TYPES:
            errors.append(f"line {n}: unknown product_type {product_type!r}")
        if text in seen:
            errors.append(f"line {n}: duplicate of line {seen[text]}")
        seen[text] = n
        counts[intent] += 1
    missing = INTENTS - set(counts)
    if missing:
        errors.append(f"intents without questions: {sorted(missing)}")
    total = sum(counts.values())
    print(f"{total} questions, {len(counts)} intents")
    for intent, count in counts.most_common():
        print(f"  {intent:24} {count:4}  {count / total:.1%}")
    for error in errors:
        print("ERROR", error)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
