#!/usr/bin/env bash
# Every test suite, in order; exits non-zero if any failed. Called by `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
export RASA_TELEMETRY_ENABLED=false
failed=(); passed=()
suite() {  # suite NAME COMMAND...
  local name="$1"; shift
  echo; echo "==> $name"
  if "$@"; then passed+=("$name"); else failed+=("$name"); echo "!! $name FAILED"; fi
}

if [ -f ../shared/checks/contract.py ]; then
  suite "NLU contract and eval-leak check" python3 ../shared/checks/contract.py .
fi

echo "==> starting PostgreSQL for the knowledge-base tests"
if KNOWLEDGE_TEST_PG_URL=$(bash scripts/pg_test_server.sh); then
  export KNOWLEDGE_TEST_PG_URL
else
  failed+=("PostgreSQL set-up")
fi

suite "knowledge base and actions (pytest)" .venv/actions/bin/python -m pytest -q tests/knowledge tests/actions tests/desk tests/banktext tests/test_import_direction.py
suite "generated NLU files are current" bash scripts/check_generated.sh
suite "rasa data validate" make --no-print-directory validate
suite "train the model" make --no-print-directory train
suite "Rasa server side (pytest)" .venv/rasa/bin/python -m pytest -q tests/bot tests/banktext --ignore=tests/bot/test_journeys.py
journeys() {
  .venv/rasa/bin/python scripts/journeys_doc.py --summary | grep journeys
  .venv/rasa/bin/python -m pytest -q tests/bot/test_journeys.py
}
suite "customer journeys end to end (NLU, dialogue, live actions, rows written)" journeys
suite "conversation tests (rasa test --e2e)" bash scripts/conversation_tests.sh
suite "channels: gateway, WeChat, security, faults and bad input (pytest)" .venv/rasa/bin/python -m pytest -q tests/channels --ignore=tests/channels/browser
suite "web chat in headless Chromium" bash scripts/browser_tests.sh
suite "scale-out: two Rasa servers behind nginx, one killed mid-load; a restart of everything" \
  .venv/rasa/bin/python -m pytest -q -s -p no:cacheprovider tests/cluster

echo
echo "passed suites: ${passed[*]:-none}"
[ ${#failed[@]} -gt 0 ] && echo "FAILED suites: ${failed[*]}"
echo "suites: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
