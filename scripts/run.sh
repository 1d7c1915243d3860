#!/usr/bin/env bash
# Start the action server and the Rasa server, then chat in the terminal. Called by `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
mkdir -p var/log
for port in 5055 5005; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "ERROR: port $port is already in use. Stop whatever listens there (another 'make run'?)," >&2
    echo "       e.g. 'ss -ltnp | grep :$port', then run 'make run' again." >&2
    exit 1
  fi
done
echo "==> starting the action server on :5055 (log: var/log/actions.log)"
.venv/actions/bin/python -m rasa_sdk --actions actions -p 5055 >var/log/actions.log 2>&1 &
actions_pid=$!
trap 'kill $actions_pid 2>/dev/null' EXIT
for _ in $(seq 60); do (exec 3<>/dev/tcp/127.0.0.1/5055) 2>/dev/null && break; sleep 0.5; done
echo "==> starting the assistant; type your question (Chinese), /stop to quit"
.venv/rasa/bin/rasa shell --model models/assistant.tar.gz --endpoints endpoints.yml
