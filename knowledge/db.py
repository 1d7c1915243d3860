"""Engine and session factory, created on first use from one URL setting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Delete, Engine, Update, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from knowledge import config


def _normalise_url(url: str) -> str:
    parsed = make_url(url)
    # psycopg 3 is the driver this environment installs; plain postgresql:// means it.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class DatabaseMissing(RuntimeError):
    """The knowledge base's file does not exist (it is created by ``python -m knowledge load``)."""


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url`` or the configured URL.

    A SQLite file is created on first use, except where ``KNOWLEDGE_DB_MUST_EXIST`` is set
    (the action server): there a missing file is an error at every connection, never a
    new empty database that answers every question with "no such table".
    """
    return _engine(_normalise_url(url or config.db_url()), config.must_exist(), config.busy_seconds())


@lru_cache(maxsize=16)
def _engine(url: str, must_exist: bool, busy_seconds: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not path.startswith("file:"):
            if must_exist:
                absolute = Path(path).resolve()
                engine = create_engine(
                    "sqlite://",
                    creator=lambda: _open_existing(absolute, busy_seconds),
                    hide_parameters=True,
                )
                _sqlite_foreign_keys(engine)
                return engine
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_seconds}, hide_parameters=True
        )

        _sqlite_foreign_keys(engine)
        return engine
    # hide_parameters: an error message never carries what a customer typed
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _open_existing(path: Path, busy_seconds: float):
    import sqlite3

    if not path.is_file():
        raise DatabaseMissing(f"the knowledge base {path} does not exist: load it with `make kb`")
    # read-write, never create; wait up to SQLITE_BUSY_SECONDS for a lock
    return sqlite3.connect(f"file:{path}?mode=rw", uri=True, check_same_thread=False, timeout=busy_seconds)


def _sqlite_foreign_keys(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    """A session factory bound to the engine of ``url``.

    ``expire_on_commit=False`` lets callers read what they just wrote after the
    session has closed.
    """
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One session per operation: commit on success, roll back on error."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def rows_changed(session: Session, statement: Update | Delete) -> int:
    """Run a conditional UPDATE or DELETE and say how many rows it changed.

    State changes are made this way (``... WHERE id = :id AND state = 'waiting'``), so that of two
    agents, servers or schedulers racing for one row exactly one sees 1 and the other 0."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def create_schema(url: str | None = None) -> None:
    """Create any missing tables, and add the columns a newer release added to existing ones.

    Only additive changes are made this way (a new nullable column, or one with a server
    default), so a database loaded by an older release keeps its rows and gains the column."""
    from sqlalchemy import inspect, text

    from knowledge.models import Base

    engine = get_engine(url)
    Base.metadata.create_all(engine)
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in have or column.primary_key:
                    continue
                if not column.nullable and column.server_default is None:
                    raise RuntimeError(f"{table.name}.{column.name} is new and required: it needs a migration")
                kind = column.type.compile(dialect=engine.dialect)
                default = f" DEFAULT {column.server_default.arg}" if column.server_default is not None else ""
                connection.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{default}'))
