#!/usr/bin/env bash
# Start (installing if needed) a private PostgreSQL server on loopback for the tests.
# Prints the SQLAlchemy URL of a ready, empty-able test database on stdout; progress on stderr.
set -euo pipefail
PORT="${KB_TEST_PG_PORT:-54329}"
DATA="${KB_TEST_PG_DIR:-/tmp/yunlan-kb-pg-$PORT}"
DB=kb_test
log() { echo "[pg-test] $*" >&2; }

pg_bin() { ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname; }

if [ -z "$(pg_bin)" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and this user cannot install it: run 'sudo apt-get install -y postgresql' first."
    exit 1
  fi
  log "installing PostgreSQL from Debian packages (about a minute) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  # the package starts a cluster on 5432; the tests use their own, so leave that one alone
fi
BIN="$(pg_bin)"
RUN=()
if [ "$(id -u)" = 0 ]; then RUN=(runuser -u postgres --); fi

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "creating a test cluster in $DATA ..."
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
    "${RUN[@]}" "$BIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$PORT ..."
  "${RUN[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DATA -c fsync=off -c full_page_writes=off" start >&2
fi
if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "select 1 from pg_database where datname='$DB'" | grep -q 1; then
  "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"
