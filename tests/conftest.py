"""Fixtures shared by the knowledge and action tests (action-server environment)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "knowledge" / "seed"
#: The PostgreSQL databases this run created, dropped when it ends.
_CREATED_DATABASES: list[str] = []


def _postgres_url() -> str:
    """A PostgreSQL server for the tests: KNOWLEDGE_TEST_PG_URL, or one the set-up script starts."""
    url = os.environ.get("KNOWLEDGE_TEST_PG_URL")
    if url:
        return url
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pg_test_server.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"could not start PostgreSQL for the tests:\n{done.stderr}")
    url = done.stdout.strip().splitlines()[-1]
    os.environ["KNOWLEDGE_TEST_PG_URL"] = url
    return url


@pytest.fixture(scope="session")
def seed():
    from knowledge.loader import read_seed

    return read_seed(SEED)


def _fresh_database(backend: str, tmp_path_factory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('kb') / 'kb.db'}"
    from sqlalchemy import create_engine, text

    base = _postgres_url()
    name = f"kb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _CREATED_DATABASES.append(name)
    return base.rsplit("/", 1)[0] + "/" + name


def pytest_sessionfinish(session, exitstatus):
    """The run's PostgreSQL databases are dropped: kept, they piled up run after run in the test
    cluster (about 10 MB each; 750 of them, 7 GB, filled this machine's disk)."""
    if not _CREATED_DATABASES:
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(_postgres_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _CREATED_DATABASES:
            # FORCE: an engine a test left open still holds a connection
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    _CREATED_DATABASES.clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path_factory) -> str:
    """URL of a new, empty database on each backend (schema created)."""
    from knowledge.db import create_schema

    url = _fresh_database(request.param, tmp_path_factory)
    create_schema(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def seeded_db(request, tmp_path_factory, seed) -> str:
    """URL of a database loaded with the sample seed, shared by read-only tests."""
    from knowledge.db import create_schema, session_scope
    from knowledge.loader import apply_seed

    url = _fresh_database(request.param, tmp_path_factory)
    create_schema(url)
    with session_scope(url) as session:
        apply_seed(session, seed)
    return url


@pytest.fixture
def session(seeded_db):
    """A session on the seeded database; rolled back after the test."""
    from knowledge.db import get_sessionmaker

    s = get_sessionmaker(seeded_db)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()
