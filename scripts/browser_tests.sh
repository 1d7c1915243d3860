#!/usr/bin/env bash
# The website chat end to end: installs Chromium if missing, starts the action server and
# the Rasa server (credentials.yml, as `make run` does) on free ports, runs the python-socketio
# tests (Rasa environment) and the headless-Chromium tests (action-server environment),
# stops the servers. Called by scripts/test.sh; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
export RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=2

# --- Chromium and its WebDriver, from the distribution (never a browser download) ---------
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "ERROR: the browser tests need Chromium and its driver: install the Debian packages" >&2
    echo "       'chromium chromium-driver' (and 'fonts-wqy-microhei' for readable screenshots), e.g." >&2
    echo "       sudo apt-get update && sudo apt-get install chromium chromium-driver fonts-wqy-microhei" >&2
    exit 1
  fi
  echo "==> installing chromium, chromium-driver and a Chinese font with apt-get (a minute or two)"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      chromium chromium-driver fonts-wqy-microhei >/dev/null; }; then
    echo "ERROR: apt-get could not install chromium / chromium-driver; see the messages above." >&2
    exit 1
  fi
fi
echo "==> $(chromium --version 2>/dev/null | head -1), $(chromedriver --version | head -1 | cut -d' ' -f1-2)"

for need in .venv/rasa/.installed .venv/actions/.installed web/node_modules/.installed models/assistant.tar.gz; do
  if [ ! -e "$need" ]; then
    echo "ERROR: $need is missing: run 'make setup' (and 'make train' for the model) first." >&2
    exit 1
  fi
done

# --- servers ----------------------------------------------------------------------------
free_port() { .venv/rasa/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_ok() { .venv/rasa/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; }
scratch=$(mktemp -d)
pids=()
stop_servers() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap stop_servers EXIT
show_logs() {
  echo "--- action server log:"; tail -30 "$scratch/actions.log"
  echo "--- Rasa server log:"; tail -40 "$scratch/rasa.log"
  echo "--- staff desk log:"; tail -30 "$scratch/desk.log"
}

action_port=$(free_port)
rasa_port=$(free_port)
desk_port=$(free_port)
while [ "$rasa_port" = "$action_port" ]; do rasa_port=$(free_port); done
while [ "$desk_port" = "$action_port" ] || [ "$desk_port" = "$rasa_port" ]; do desk_port=$(free_port); done
export KNOWLEDGE_DB_URL="sqlite:///$scratch/kb.db"
export TRACKER_STORE_URL="sqlite:///$scratch/tracker.db"
# the staff desk is open whenever the tests run (the seed's hours are Beijing office hours)
.venv/actions/bin/python -m knowledge load --desk-hours 00:00-24:00 >/dev/null
# exported to the servers and to the tests alike (test_browser_report.py talks to the REST
# channel with REST_CHANNEL_TOKEN, then runs `python -m desk report` on the same databases)
SECRETS_FILE="$scratch/secrets.env" . scripts/secrets.sh
# staff accounts of the desk tests (passwords only in this run's environment)
export DESK_TEST_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
echo "$DESK_TEST_PASSWORD" | .venv/actions/bin/python -m desk user add wangmin --role agent --display-name 王敏 --password-stdin >/dev/null
echo "$DESK_TEST_PASSWORD" | .venv/actions/bin/python -m desk user add lizhuguan --role supervisor --display-name 李主管 --password-stdin >/dev/null
# the tests read stored conversations through Rasa's HTTP API, which answers only with this token
RASA_API_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export RASA_API_TOKEN
sed "s#http://127.0.0.1:5055/webhook#http://127.0.0.1:$action_port/webhook#" endpoints.yml >"$scratch/endpoints.yml"

echo "==> starting the action server on :$action_port and the Rasa server on :$rasa_port"
.venv/actions/bin/python -m actions.server -p "$action_port" >"$scratch/actions.log" 2>&1 &
pids+=($!)
# --enable-api with a token: the tests read the stored conversation (GET /conversations/<id>/tracker)
.venv/rasa/bin/rasa run --model models/assistant.tar.gz --endpoints "$scratch/endpoints.yml" \
  --credentials credentials.yml --enable-api --auth-token "$RASA_API_TOKEN" -i 127.0.0.1 -p "$rasa_port" \
  >"$scratch/rasa.log" 2>&1 &
pids+=($!)

DESK_RASA_URL="http://127.0.0.1:$rasa_port" DESK_PAGE_REFRESH_SECONDS=2 .venv/actions/bin/python -m desk serve --port "$desk_port" \
  >"$scratch/desk.log" 2>&1 &
pids+=($!)

export WEBCHAT_URL="http://127.0.0.1:$rasa_port"
export DESK_URL="http://127.0.0.1:$desk_port"
ready=0
for _ in $(seq 180); do
  # the Rasa server listens only once the model is loaded
  if (exec 3<>/dev/tcp/127.0.0.1/"$action_port") 2>/dev/null && http_ok "$WEBCHAT_URL/webhooks/web/health" \
      && (exec 3<>/dev/tcp/127.0.0.1/"$desk_port") 2>/dev/null; then
    ready=1; break
  fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "ERROR: a server exited during start-up" >&2; show_logs; exit 1; }; done
  sleep 1
done
if [ "$ready" != 1 ]; then echo "ERROR: the servers did not start within 3 minutes" >&2; show_logs; exit 1; fi
echo "==> servers ready at $WEBCHAT_URL"

# --- tests ------------------------------------------------------------------------------
status=0
echo "==> socket.io protocol, channel and gateway (python-socketio clients, Rasa environment)"
.venv/rasa/bin/python -m pytest -q -p no:cacheprovider tests/channels/browser/test_socketio_*.py || status=1
echo "==> the page in headless Chromium (Selenium, action-server environment)"
.venv/actions/bin/python -m pytest -q -p no:cacheprovider tests/channels/browser/test_browser_*.py || status=1
if [ "$status" != 0 ]; then show_logs; fi
exit "$status"
