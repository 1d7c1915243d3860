"""Settings of the knowledge base, read from the environment in one place."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = Path(__file__).resolve().parent / "seed"
DEFAULT_DB_PATH = PROJECT_ROOT / "var" / "knowledge.db"


def db_url() -> str:
    """The SQLAlchemy URL of the knowledge base.

    ``KNOWLEDGE_DB_URL`` wins; the default is a SQLite file under the ignored
    ``var/`` folder, so a fresh clone runs with no database server.
    """
    return os.environ.get("KNOWLEDGE_DB_URL") or f"sqlite:///{DEFAULT_DB_PATH}"


def must_exist() -> bool:
    """Whether a missing SQLite knowledge base is an error instead of a new empty file (the action server)."""
    return os.environ.get("KNOWLEDGE_DB_MUST_EXIST", "") not in ("", "0", "false", "no")


def busy_seconds() -> float:
    """How long a query waits for a locked SQLite database before it fails."""
    try:
        return float(os.environ.get("SQLITE_BUSY_SECONDS", "5"))
    except ValueError:
        return 5.0
