#!/usr/bin/env bash
# The generated files in the repository are exactly what the seed generates now
# (the list is whatever `python -m knowledge export-nlu` writes).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/data" && cp -r data/nlu "$tmp/data/"
written=$(PYTHONPATH="$PWD" .venv/actions/bin/python -m knowledge export-nlu --project-root "$tmp" | sed -n 's/^  wrote //p')
[ -n "$written" ] || { echo "export-nlu wrote nothing"; exit 1; }
status=0
for f in $written; do
  if ! cmp -s "$f" "$tmp/$f"; then echo "out of date: $f (run 'make nlu-export' and commit)"; status=1; fi
done
[ $status -eq 0 ] && echo "generated files are current ($(echo "$written" | wc -w) files)"
exit $status
