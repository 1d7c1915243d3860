"""Fixtures for the action tests: a seeded SQLite knowledge base, the domain, trackers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kb_url(tmp_path_factory, seed) -> str:
    from knowledge.db import create_schema, session_scope
    from knowledge.loader import apply_seed

    url = f"sqlite:///{tmp_path_factory.mktemp('actions') / 'kb.db'}"
    create_schema(url)
    with session_scope(url) as session:
        apply_seed(session, seed)
    return url


@pytest.fixture(autouse=True)
def _kb_env(kb_url, monkeypatch):
    monkeypatch.setenv("KNOWLEDGE_DB_URL", kb_url)


@pytest.fixture
def kb(kb_url):
    """A session to look at what the actions stored."""
    from knowledge.db import get_sessionmaker

    session = get_sessionmaker(kb_url)()
    yield session
    session.close()


@pytest.fixture(scope="session")
def domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def make_tracker(
    text: str = "",
    intent: str = "",
    entities: list[dict] | None = None,
    slots: dict[str, Any] | None = None,
    events: list[dict] | None = None,
    active_loop: str | None = None,
    sender_id: str = "web:test-user",
    confidence: float = 0.95,
    parse: dict[str, Any] | None = None,
) -> Tracker:
    """``parse``: more of the NLU's parse (``DECIDED_BY_RULE``, ``UNFAMILIAR_WORDS``)."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        **(parse or {}),
    }
    user_event = {"event": "user", "text": text, "parse_data": latest}
    return Tracker(
        sender_id=sender_id,
        slots={"acknowledged_products": [], "disclosure_pending": False, **(slots or {})},
        latest_message=latest,
        events=(events or []) + [user_event],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def ent(entity: str, value: Any, text: str | None = None) -> dict:
    return {"entity": entity, "value": value, "text": text if text is not None else str(value)}


@pytest.fixture
def tracker_for():
    return make_tracker


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("response") for m in dispatcher.messages]


def slots_set(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def without_misses(values: dict[str, Any]) -> dict[str, Any]:
    """A validation's slots without the form's count of unusable answers."""
    return {k: v for k, v in values.items() if k != "form_misses"}
