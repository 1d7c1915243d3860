#!/usr/bin/env bash
# Start the action server, the Rasa server with the website chat and the staff desk, then
# print the URLs; Ctrl-C stops all three. Called by `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
export RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=2
mkdir -p var/log
. scripts/secrets.sh
# the servers listen on loopback; put a reverse proxy in front to serve customers (docs/deployment.md)
RASA_HOST="${RASA_HOST:-127.0.0.1}"
api=()
if [ -n "${RASA_API_TOKEN:-}" ]; then
  # Rasa's HTTP API (trackers, events, model) only with a token, on loopback; off otherwise
  case "$RASA_HOST" in
    127.*|localhost|::1) ;;
    *) echo "ERROR: RASA_API_TOKEN enables Rasa's HTTP API, which may only listen on loopback;" >&2
       echo "       unset RASA_HOST or RASA_API_TOKEN (docs/deployment.md)." >&2; exit 1 ;;
  esac
  api=(--enable-api --auth-token "$RASA_API_TOKEN")
fi
for port in 5055 5005 "${DESK_PORT:-5006}"; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "ERROR: port $port is already in use. Stop whatever listens there (another 'make run'?)," >&2
    echo "       e.g. 'ss -ltnp | grep :$port', then run 'make run' again." >&2
    exit 1
  fi
done

actions_pid=""
rasa_pid=""
desk_pid=""
stop() {
  trap - EXIT INT TERM
  echo
  echo "==> stopping the servers"
  for pid in $desk_pid $rasa_pid $actions_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in $desk_pid $rasa_pid $actions_pid; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 130' INT TERM

# conversations older than CONVERSATION_RETENTION_DAYS (default 180) are deleted at every start
.venv/rasa/bin/python -m bot.stores purge || echo "WARNING: could not purge old conversations" >&2

echo "==> starting the action server on 127.0.0.1:5055 (log: var/log/actions.log)"
.venv/actions/bin/python -m actions.server -p 5055 >var/log/actions.log 2>&1 &
actions_pid=$!
for _ in $(seq 60); do (exec 3<>/dev/tcp/127.0.0.1/5055) 2>/dev/null && break; sleep 0.5; done

echo "==> starting the Rasa server on :5005 with the website chat (log: var/log/rasa.log); loading the model takes a minute"
.venv/rasa/bin/rasa run --model models/assistant.tar.gz --endpoints endpoints.yml --credentials credentials.yml \
  -i "$RASA_HOST" -p 5005 "${api[@]}" >var/log/rasa.log 2>&1 &
rasa_pid=$!

# the Rasa server listens only once the model is loaded
until .venv/rasa/bin/python -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:5005/webhooks/web/health", timeout=2)' 2>/dev/null; do
  for pid in $actions_pid $rasa_pid; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "ERROR: a server stopped during start-up. Last lines of its logs:" >&2
      tail -20 var/log/actions.log var/log/rasa.log >&2
      exit 1
    fi
  done
  sleep 1
done

DESK_PORT="${DESK_PORT:-5006}"
echo "==> starting the staff desk on 127.0.0.1:$DESK_PORT (log: var/log/desk.log)"
# the demo agent and supervisor exist from the first run on; their passwords are shown only then
demo_users=$(.venv/actions/bin/python -m desk demo-users)
DESK_RASA_URL="http://127.0.0.1:5005" .venv/actions/bin/python -m desk serve --port "$DESK_PORT" >var/log/desk.log 2>&1 &
desk_pid=$!
for _ in $(seq 40); do (exec 3<>/dev/tcp/127.0.0.1/"$DESK_PORT") 2>/dev/null && break; sleep 0.5; done

cat <<MSG

==> 云澜银行智能客服 is ready. Open the chat page in a browser:

        http://localhost:5005/chat

    Staff desk (human agents and supervisors): http://localhost:$DESK_PORT/
MSG
if [ -n "$demo_users" ]; then
  cat <<MSG
    Demo staff accounts, created now. Their passwords are shown this once only; note them
    (more accounts: .venv/actions/bin/python -m desk user add NAME --role agent):
$demo_users
MSG
fi
cat <<MSG

    Logs: var/log/rasa.log, var/log/actions.log, var/log/desk.log. Press Ctrl-C to stop.
MSG

# come back when any server stops on its own (or on Ctrl-C)
set +e
wait -n "$actions_pid" "$rasa_pid" "$desk_pid"
echo "ERROR: a server stopped unexpectedly; see var/log/rasa.log, var/log/actions.log and var/log/desk.log." >&2
exit 1
