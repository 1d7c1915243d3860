"""Check tests/nlu_validation/own_questions.tsv: 3 tab-separated fields, contract intents, canonical product types.

Standard library only: python3 tests/nlu_validation/check_own_questions.py [PATH]
An optional PATH checks another file of the same format (e.g. qa_style_questions.tsv) instead.
The intent and product_type names are those of the NLU contract (shared/spec/intents.yml).
"""

import collections
import re
import sys
from pathlib import Path

TSV = Path(__file__).with_name("own_questions.tsv")

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "spec" / "intents.yml"
_KEY = re.compile(r"^( *)([a-z_]+):")


def contract_names(text: str) -> tuple[set[str], set[str]]:
    """The intent names and the product_type values of the contract, read by indentation (the
    contract's layout: intents at two spaces under ``intents:``, product types at six under
    ``entities: product_type: values:``), so that this check needs nothing but the standard library."""
    intents: set[str] = set()
    product_types: set[str] = set()
    path: list[tuple[int, str]] = []
    for line in text.split("\n"):
        match = _KEY.match(line)
        if not match:
            continue
        depth, key = len(match.group(1)), match.group(2)
        while path and path[-1][0] >= depth:
            path.pop()
        parents = [k for _, k in path]
        if parents == ["intents"]:
            intents.add(key)
        elif parents == ["entities", "product_type", "values"]:
            product_types.add(key)
        path.append((depth, key))
    return intents, product_types


INTENTS, PRODUCT_TYPES = contract_names(CONTRACT.read_text(encoding="utf-8"))


def main() -> int:
    tsv = Path(sys.argv[1]) if len(sys.argv) > 1 else TSV
    lines = tsv.read_text(encoding="utf-8").split("\n")
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
