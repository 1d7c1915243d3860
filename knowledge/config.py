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
