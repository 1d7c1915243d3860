"""Where conversations live: Rasa's SQL tracker store on one URL setting, and their retention.

``endpoints.yml`` names :class:`TrackerStore`. It is Rasa's own ``SQLTrackerStore`` (the
documented way to keep conversations across restarts and share them between server
instances), configured from the environment instead of credentials in the file:

* ``TRACKER_STORE_URL``: a SQLAlchemy URL; by default the SQLite file ``var/tracker.db``, so
  `make run` keeps every conversation, its slots and its form state across a restart with no
  database server; ``postgresql://user:pass@host/db`` for several instances (`make run-cluster`).
* ``CONVERSATION_RETENTION_DAYS`` (default 180): conversations whose last event is older are
  deleted by :func:`purge` (``make purge``, and at every start of `make run`).

Only masked text ever reaches the store: the channel gateway masks card, ID and phone numbers
before the bot sees a message.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = f"sqlite:///{ROOT / 'var' / 'tracker.db'}"
DEFAULT_RETENTION_DAYS = 180
logger = logging.getLogger(__name__)


def tracker_store_url() -> str:
    return os.environ.get("TRACKER_STORE_URL") or DEFAULT_URL


def retention_days() -> int:
    try:
        return max(1, int(os.environ.get("CONVERSATION_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)))
    except ValueError:
        return DEFAULT_RETENTION_DAYS


def _engine_url(url: str) -> str:
    """PostgreSQL through psycopg2 (what the Rasa environment has); a SQLite file's folder exists."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


class TrackerStore(SQLTrackerStore):
    """Rasa's SQLTrackerStore on ``TRACKER_STORE_URL`` (default: ``var/tracker.db``)."""

    def __init__(self, domain: Any = None, host: str | None = None, event_broker: Any = None, **kwargs: Any):
        url = _engine_url(tracker_store_url() if not (host and "://" in str(host)) else str(host))
        kwargs.pop("url", None)
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        if self.engine.dialect.name == "sqlite":
            import sqlalchemy as sa

            @sa.event.listens_for(self.engine, "connect")
            def _fast_and_safe(dbapi_connection: Any, _: Any) -> None:
                # write-ahead log: a turn's events are written without rewriting the file, and
                # readers never wait for a writer; still durable across a crash of the server
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

            self.engine.dispose()  # connections made before the listener get the pragmas too


class LockStore(RedisLockStore):
    """Rasa's Redis lock store for several server instances, with one flaw mended.

    Rasa 3.6 waits for its ticket to be the first one not expired. When a server dies holding
    a conversation's lock, the waiting ticket can expire together with the dead one; the list
    is then empty and the waiter loops until the request times out (a minute of silence for
    that customer, then an error). Here a waiter whose ticket has expired while no earlier
    ticket is alive goes ahead: nobody else can be serving that conversation.

    ``endpoints.yml``: ``lock_store: {type: bot.stores.LockStore, url: host, port: …, db: …}``.
    """

    def __init__(self, endpoint_config: Any = None, **kwargs: Any) -> None:
        settings = {**(getattr(endpoint_config, "kwargs", None) or {}), **kwargs}
        host = getattr(endpoint_config, "url", None) or settings.pop("host", "localhost")
        settings.pop("url", None)
        super().__init__(host=host, **settings)

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:
                break
            alive = [t.number for t in lock.tickets]  # reading them drops the expired ones
            if not lock.is_locked(ticket) or (ticket not in alive and all(n > ticket for n in alive)):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            self.update_lock(conversation_id)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")


def purge(url: str | None = None, days: int | None = None, now: float | None = None) -> int:
    """Delete the conversations whose last event is older than ``days``; returns how many."""
    import sqlalchemy as sa

    engine = sa.create_engine(_engine_url(url or tracker_store_url()))
    cutoff = (now if now is not None else time.time()) - 86400 * (days or retention_days())
    with engine.begin() as conn:
        if not sa.inspect(conn).has_table("events"):
            return 0
        old = sa.text("SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :cutoff")
        senders = [row[0] for row in conn.execute(old, {"cutoff": cutoff})]
        for start in range(0, len(senders), 500):
            chunk = senders[start : start + 500]
            delete = sa.text("DELETE FROM events WHERE sender_id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            )
            conn.execute(delete, {"ids": chunk})
    engine.dispose()
    return len(senders)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.stores", description="Conversation retention.")
    parser.add_argument("command", choices=["purge"])
    parser.add_argument(
        "--days", type=int, default=None, help=f"default: CONVERSATION_RETENTION_DAYS or {DEFAULT_RETENTION_DAYS}"
    )
    args = parser.parse_args(argv)
    removed = purge(days=args.days)
    print(f"removed {removed} conversation(s) older than {args.days or retention_days()} days from the tracker store")
    return 0


if __name__ == "__main__":
    sys.exit(main())
