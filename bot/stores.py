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
import collections
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
import sqlalchemy.pool
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

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
    """Rasa's SQLTrackerStore on ``TRACKER_STORE_URL`` (default: ``var/tracker.db``), with the
    same tables and the same rows, and less work per turn:

    * SQLite keeps a pool of open connections in write-ahead-log mode (Rasa's SQLAlchemy 1.4
      opens and closes the file for every query);
    * a conversation is read as its events' JSON alone, and a turn's new events are written
      in one statement, and which events are new is known
      from the tracker this instance just read instead of counting the stored ones again.
      Rasa reads a conversation before it saves it, both under the conversation's lock, so no
      other instance writes it in between; a tracker this instance has not read is counted
      as Rasa does.
    """

    #: conversations recently read or saved here, and how many of their events are stored
    MAX_KNOWN = 10_000

    def __init__(self, domain: Any = None, host: str | None = None, event_broker: Any = None, **kwargs: Any):
        url = _engine_url(tracker_store_url() if not (host and "://" in str(host)) else str(host))
        kwargs.pop("url", None)
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        self._stored: collections.OrderedDict[str, int] = collections.OrderedDict()
        if self.engine.dialect.name == "sqlite":
            self.engine.dispose()
            self.engine = _sqlite_engine(self.engine.url)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
        """Rasa's reading of a conversation, selecting the events' data alone (Rasa builds an
        ORM object for every row first)."""
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions)
            events = [json.loads(data) for (data,) in query.with_entities(self.SQLEvent.data)]
        tracker = None
        if self.domain and events:
            tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if not fetch_events_from_all_sessions:
            self._remember(sender_id, len(tracker.events) if tracker is not None else 0)
        return tracker

    def _remember(self, sender_id: str, stored: int) -> None:
        self._stored[sender_id] = stored
        self._stored.move_to_end(sender_id)
        while len(self._stored) > self.MAX_KNOWN:
            self._stored.popitem(last=False)

    def _additional_events(self, session: Any, tracker: Any) -> Any:
        stored = self._stored.pop(tracker.sender_id, None)
        if stored is None or stored > len(tracker.events):
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def save(self, tracker: Any) -> None:
        """Rasa's save (stream the events, store the new ones) in one INSERT."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            rows = []
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
        self._remember(tracker.sender_id, len(tracker.events))
        logger.debug("Tracker with sender_id '%s' stored to database", tracker.sender_id)


def _sqlite_engine(url: Any) -> Any:
    """A SQLite engine that keeps its connections, in write-ahead-log mode: a turn's events are
    appended without rewriting the file, readers never wait for the writer, and a crash of the
    server loses nothing committed."""
    engine = sa.create_engine(
        url,
        poolclass=sa.pool.QueuePool,
        pool_size=4,
        max_overflow=8,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


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
