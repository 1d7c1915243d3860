#!/usr/bin/env bash
# The generated NLU files in the repository are exactly what the seed generates now.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/data" && cp -r data/nlu "$tmp/data/"
PYTHONPATH="$PWD" .venv/actions/bin/python -m knowledge export-nlu --project-root "$tmp" >/dev/null
status=0
for f in data/nlu/lookup_products.yml data/nlu/synonyms.yml data/nlu/faq.yml data/nlu/bank_references.yml \
         data/nlu/product_mentions.yml bot/resources/jieba/userdict.txt bot/resources/bank_references.txt bot/resources/README.md; do
  if ! cmp -s "$f" "$tmp/$f"; then echo "out of date: $f (run 'make nlu-export' and commit)"; status=1; fi
done
[ $status -eq 0 ] && echo "generated NLU files are current"
exit $status
