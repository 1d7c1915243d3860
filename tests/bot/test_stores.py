"""Conversations survive a restart of the Rasa server, and old ones are deleted on schedule."""

from __future__ import annotations

import json
import time

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
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


def _rows(engine_url: str) -> list[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(engine_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT sender_id, type_name, intent_name, action_name, data FROM events ORDER BY id")
        ).all()
    engine.dispose()
    untimed = lambda data: {k: v for k, v in json.loads(data).items() if k != "timestamp"}  # noqa: E731
    return [(*r[:4], untimed(r[4])) for r in rows]


async def _turns(store, sender: str, when: float) -> None:
    """What Rasa does on three turns: read, add events, save; the first read finds nothing."""
    tracker = await store.retrieve(sender) or await store.create_tracker(sender)
    for n, text in enumerate(("信用卡年费多少", "那金卡呢", "谢谢")):
        tracker = await store.retrieve(sender)
        tracker.update(UserUttered(text, {"name": "ask_product_fee", "confidence": 0.9}, timestamp=when + n))
        tracker.update(ActionExecuted("action_answer_product", timestamp=when + n))
        tracker.update(SlotSet("last_aspect", "fee", timestamp=when + n))
        tracker.update(ActionExecuted("action_listen", timestamp=when + n))
        await store.save(tracker)


async def test_the_store_writes_the_rows_rasas_own_store_writes(tmp_path, monkeypatch):
    from rasa.core.tracker_store import SQLTrackerStore

    ours, rasas = f"sqlite:///{tmp_path / 'ours.db'}", f"sqlite:///{tmp_path / 'rasa.db'}"
    monkeypatch.setenv("TRACKER_STORE_URL", ours)
    when = time.time()
    await _turns(TrackerStore(domain=DOMAIN), "web-7", when)
    await _turns(SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db")), "web-7", when)
    assert _rows(ours) == _rows(rasas) and len(_rows(ours)) == 13


async def test_two_instances_taking_turns_lose_and_repeat_nothing(url):
    first, second = TrackerStore(domain=DOMAIN), TrackerStore(domain=DOMAIN)
    when = time.time()
    await first.save(_conversation("web-2", when))
    for n in range(6):  # turns alternate between the two server instances
        store = (first, second)[n % 2]
        tracker = await store.retrieve("web-2")
        tracker.update(UserUttered(f"第{n}句", {"name": "inform", "confidence": 1.0}, timestamp=when + n))
        await store.save(tracker)
    # an instance saving a conversation it has not read since the other one wrote
    stale = await first.retrieve("web-2")
    fresh = await second.retrieve("web-2")
    fresh.update(UserUttered("第6句", {"name": "inform", "confidence": 1.0}, timestamp=when + 6))
    await second.save(fresh)
    first._stored.clear()  # as after a restart: nothing known, counted as Rasa does
    stale.update(UserUttered("第7句", {"name": "inform", "confidence": 1.0}, timestamp=when + 7))
    await first.save(stale)
    texts = [e.text for e in (await second.retrieve("web-2")).events if isinstance(e, UserUttered)]
    assert texts == ["我要预约"] + [f"第{n}句" for n in range(7)]
