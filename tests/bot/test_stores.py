"""Conversations survive a restart of the Rasa server, and old ones are deleted on schedule."""

from __future__ import annotations

import time

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stores import TrackerStore, purge

DOMAIN = Domain.from_path("domain.yml")


def _conversation(sender: str, when: float) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in (
        ActionExecuted("action_listen", timestamp=when),
        UserUttered("我要预约", {"name": "book_appointment", "confidence": 1.0}, timestamp=when),
        ActionExecuted("appointment_form", timestamp=when),
        ActiveLoop("appointment_form", timestamp=when),
        SlotSet("appointment_branch", "BJ-CY-01", timestamp=when),
        SlotSet("requested_slot", "appointment_time", timestamp=when),
    ):
        tracker.update(event)
    return tracker


@pytest.fixture
def url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("TRACKER_STORE_URL", url)
    return url


async def test_a_new_server_process_sees_the_conversation_and_its_form(url):
    first = TrackerStore(domain=DOMAIN)
    await first.save(_conversation("web-1", time.time()))
    first.engine.dispose()

    again = TrackerStore(domain=DOMAIN)  # a restarted server: a new store on the same database
    tracker = await again.retrieve("web-1")
    assert tracker is not None
    assert tracker.get_slot("appointment_branch") == "BJ-CY-01"
    assert tracker.active_loop_name == "appointment_form"
    assert tracker.get_slot("requested_slot") == "appointment_time"
    assert tracker.latest_message.text == "我要预约"


async def test_old_conversations_are_purged_and_recent_ones_kept(url):
    store = TrackerStore(domain=DOMAIN)
    now = time.time()
    await store.save(_conversation("old", now - 200 * 86400))
    await store.save(_conversation("recent", now - 2 * 86400))
    store.engine.dispose()
    assert purge(url, days=180, now=now) == 1
    store = TrackerStore(domain=DOMAIN)
    assert await store.retrieve("old") is None
    assert (await store.retrieve("recent")).get_slot("appointment_branch") == "BJ-CY-01"
    assert purge(url, days=180, now=now) == 0
