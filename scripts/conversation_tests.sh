#!/usr/bin/env bash
# Conversation tests in `rasa test --e2e` form: the user text of each story goes through the NLU and
# its intent and every action are checked, with a real action server on a scratch database.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
export RASA_TELEMETRY_ENABLED=false
scratch=$(mktemp -d)
export KNOWLEDGE_DB_URL="sqlite:///$scratch/kb.db"
export TRACKER_STORE_URL="sqlite:///$scratch/tracker.db"
port="${ACTION_PORT:-5055}"
.venv/actions/bin/python -m knowledge load >/dev/null
SECRETS_FILE="$scratch/secrets.env" . scripts/secrets.sh
if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
  echo "ERROR: port $port is in use: stop what listens there (make run?) and try again." >&2; exit 1
fi
.venv/actions/bin/python -m actions.server -p "$port" >"$scratch/actions.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
for _ in $(seq 60); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.5; done
.venv/rasa/bin/rasa test core --e2e --model models/assistant.tar.gz --stories tests/ \
  --fail-on-prediction-errors --out results/stories --endpoints endpoints.yml || {
  echo "--- failed stories:"; cat results/stories/failed_test_stories.yml 2>/dev/null | head -100
  echo "--- action server log:"; tail -40 "$scratch/actions.log"; exit 1; }
