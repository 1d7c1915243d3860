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


def retention_days() -> int:
    """How long conversation data is kept (``CONVERSATION_RETENTION_DAYS``, default 180), as the
    Rasa server's tracker store reads it (``bot.stores``): sealed call-back numbers go with them."""
    try:
        return max(1, int(os.environ.get("CONVERSATION_RETENTION_DAYS", "180")))
    except ValueError:
        return 180
