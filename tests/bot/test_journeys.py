"""Customer journeys, end to end: typed text through the channel gateway, the trained NLU,
the dialogue policies and a live action server on a scratch knowledge base.

Each journey in ``tests/bot/journeys/*.yml`` is a conversation as customers type it, with
what must hold after every turn. Nothing is replayed from labels: the text goes through
the same gateway the website chat and WeChat use (masking, typed commands as text), the
NLU reads it, the policies choose, the actions run and write to the database.

A journey::

    - name: a stale "好的" acknowledges nothing
      stage: consultation          # reception | consultation | handling | after-sales
      covers: [stale-ack]          # the breaks (docs/journeys.md) this journey guards against
      channel: web                 # web (default) | wechat
      script: traditional          # every reply text and button title of every turn is in this
                                   # script (traditional | simplified); a turn may say otherwise
      turns:
        - user: 锐进权益精选理财怎么样    # what the customer types; "{date+40}": the day 40 days
                                     # from the day the test runs, as 2027年1月12日 (Beijing)
          says: [风险揭示]             # every one of these appears in the replies
        - click: 我已阅读并知晓风险      # or: press the button with this title in the last replies
          not_says: [...]            # none of these appears
          says_any: [...]            # at least one appears
          buttons: [...]             # these button titles are offered
          intent: affirm             # what the NLU read
          responses: [utter_...]     # these domain responses were sent (in any order)
          not_responses: [...]
          slots: {product_code: WM-EQUITY, appointment_time: null, amount: "*"}   # "*": set
          rows: {disclosure_ack: 1}  # rows written to these tables since the journey began
          script: simplified         # this turn's replies are in this script (the journey's by default)

``says``, ``not_says``, ``buttons`` and ``click`` match in either script (a journey typed in
Traditional may expect "云澜银行" or "雲瀾銀行"); ``script`` checks the script itself.

Run alone: ``.venv/rasa/bin/python -m pytest tests/bot/test_journeys.py``.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import re
import sqlite3
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker

from banktext import script_of, to_simplified, to_traditional
from banktext.script import SIMPLIFIED, TRADITIONAL
from bot.channels.gateway import Gateway, Incoming
from bot.channels.security import SIGNATURE_KEY

JOURNEYS_DIR = Path(__file__).resolve().parent / "journeys"
STAGES = ("reception", "consultation", "handling", "after-sales")
#: What a turn's ``rows`` counts (the change since the journey began): a table's rows, or rows in a state.
TABLES = {
    **{
        table: f"select count(*) from {table}"
        for table in (
            "disclosure_ack",
            "appointment",
            "complaint",
            "unanswered_question",
            "handoff",
            "satisfaction",
            "reminder",
        )
    },
    "cancelled_appointment": "select count(*) from appointment where cancelled_at is not null",
    "cancelled_reminder": "select count(*) from reminder where status = 'cancelled'",
}
#: "{date+40}" in what a journey's customer types: a date that stays ahead whenever the test runs.
RELATIVE_DATE = re.compile(r"\{date\+(\d+)\}")
TURN_KEYS = {
    "user",
    "click",
    "says",
    "says_any",
    "not_says",
    "buttons",
    "intent",
    "responses",
    "not_responses",
    "slots",
    "rows",
    "note",
    "script",
}
JOURNEY_KEYS = {"name", "stage", "covers", "channel", "script", "turns", "file"}
SCRIPTS = (TRADITIONAL, SIMPLIFIED)


def load_breaks() -> dict[str, str]:
    return yaml.safe_load((JOURNEYS_DIR / "breaks.yml").read_text(encoding="utf-8"))["breaks"]


def load_journeys() -> list[dict[str, Any]]:
    journeys = []
    for path in sorted(JOURNEYS_DIR.glob("*.yml")):
        if path.name == "breaks.yml":
            continue
        for journey in yaml.safe_load(path.read_text(encoding="utf-8"))["journeys"]:
            journey["file"] = path.name
            journeys.append(journey)
    return journeys


JOURNEYS = load_journeys()


def test_every_break_is_covered_by_a_journey():
    breaks = load_breaks()
    covered = {c for j in JOURNEYS for c in j.get("covers", [])}
    assert covered <= set(breaks), f"unknown breaks named: {covered - set(breaks)}"
    assert set(breaks) <= covered, f"breaks no journey covers: {set(breaks) - covered}"


def render_docs() -> str:
    """docs/journeys.md: the journeys by stage and the breaks each covers (written by scripts/journeys_doc.py)."""
    breaks = load_breaks()
    lines = [
        "# Customer journeys",
        "",
        "GENERATED from `tests/bot/journeys/*.yml` by `scripts/journeys_doc.py`; do not edit.",
        "",
        f"{len(JOURNEYS)} journeys run in `make test` (`tests/bot/test_journeys.py`): typed text through the channel",
        "gateway, the trained NLU, the dialogue rules and a live action server; every turn checks what the customer",
        "reads and, where it matters, the slots and the rows written (audit, appointment, complaint).",
        "",
    ]
    for stage in STAGES:
        here = [j for j in JOURNEYS if j["stage"] == stage]
        lines += [f"## {stage.capitalize()} ({len(here)})", "", "| journey | turns | covers |", "| --- | --- | --- |"]
        lines += [f"| {j['name']} | {len(j['turns'])} | {', '.join(j.get('covers', []))} |" for j in here]
        lines.append("")
    lines += ["## What each break is", "", "| break | what must hold | journeys |", "| --- | --- | --- |"]
    for key, text in breaks.items():
        count = sum(key in j.get("covers", []) for j in JOURNEYS)
        lines.append(f"| {key} | {text} | {count} |")
    return "\n".join(lines) + "\n"


def test_the_journeys_document_is_current():
    doc = Path(__file__).resolve().parents[2] / "docs" / "journeys.md"
    assert (
        doc.is_file() and doc.read_text(encoding="utf-8") == render_docs()
    ), "docs/journeys.md is out of date: run `.venv/rasa/bin/python scripts/journeys_doc.py`"


def test_journeys_are_well_formed():
    names = [j["name"] for j in JOURNEYS]
    assert len(names) == len(set(names)), "journey names must be unique"
    for journey in JOURNEYS:
        assert journey.get("stage") in STAGES, journey["name"]
        assert journey.get("turns"), journey["name"]
        assert set(journey) <= JOURNEY_KEYS, (journey["name"], set(journey) - JOURNEY_KEYS)
        assert journey.get("script", TRADITIONAL) in SCRIPTS, journey["name"]
        for turn in journey["turns"]:
            assert turn.get("script", TRADITIONAL) in SCRIPTS, (journey["name"], turn)
            assert set(turn) <= TURN_KEYS, (journey["name"], set(turn) - TURN_KEYS)
            assert ("user" in turn) != ("click" in turn), (journey["name"], turn)
            assert set(turn.get("rows", {})) <= set(TABLES), (journey["name"], turn)


def summary() -> str:
    """ "N journeys: reception …, consultation …" (printed by scripts/test.sh)."""
    stages = collections.Counter(j["stage"] for j in JOURNEYS)
    return f"{len(JOURNEYS)} journeys: " + ", ".join(f"{s} {stages[s]}" for s in STAGES)


@pytest.fixture(scope="module")
def desk(agent):
    """A gateway bound to the trained assistant, as the Rasa server's channels are."""
    gateway = Gateway()
    gateway.bind(SimpleNamespace(ctx=SimpleNamespace(agent=agent)))
    return gateway


def _dated(text: str) -> str:
    """The text with "{date+N}" written as the day N days after today in Beijing."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()

    def day(match: re.Match) -> str:
        d = today + dt.timedelta(days=int(match.group(1)))
        return f"{d.year}年{d.month}月{d.day}日"

    return RELATIVE_DATE.sub(day, text)


def _count_rows(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as db:
        return {name: db.execute(count).fetchone()[0] for name, count in TABLES.items()}


def _text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text") or "") for m in messages)


def _buttons(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for m in messages for b in (m.get("buttons") or m.get("quick_replies") or [])]


def _same(expected: str, shown: Any) -> bool:
    """A button title as the journey names it, in either script."""
    return isinstance(shown, str) and (shown == expected or to_simplified(shown) == to_simplified(expected))


def _contains(said: str, expected: str) -> bool:
    """Whether the answer says ``expected``, in either script."""
    return expected in said or to_simplified(expected) in to_simplified(said)


def wrong_script(messages: list[dict[str, Any]], script: str, variant: str = "tw") -> list[str]:
    """The reply texts and button titles of ``messages`` not written in ``script``.

    Traditional: OpenCC would change no character of it (none is Simplified-only), and where
    its characters differ between the scripts at all, it has more Traditional ones. (Taiwan
    phrasing is not required: names and button titles keep their words, bot/channels/reply_script.py.)
    Simplified: nothing Traditional-only in it."""
    shown = [str(m["text"]) for m in messages if m.get("text")]
    shown += [str(b.get("title")) for b in _buttons(messages) if b.get("title")]
    if script == TRADITIONAL:
        return [
            t
            for t in shown
            if to_traditional(t, variant, phrases=False) != t
            or not (script_of(t) == TRADITIONAL or script_of(to_simplified(t)) is None)
        ]
    return [t for t in shown if to_simplified(t) != t or script_of(t) == TRADITIONAL]


@pytest.mark.parametrize("journey", JOURNEYS, ids=[j["name"] for j in JOURNEYS])
async def test_journey(journey, agent, desk, action_server):
    sender = f"journey-{uuid.uuid4().hex[:12]}"
    channel = journey.get("channel", "web")
    db_path = action_server[1]
    start_rows = _count_rows(db_path)
    last: list[dict[str, Any]] = []
    for number, turn in enumerate(journey["turns"], 1):
        where = f"{journey['name']} – turn {number}"
        metadata: dict[str, Any] = {}
        if "click" in turn:
            chosen = [b for b in _buttons(last) if _same(turn["click"], b.get("title"))]
            assert chosen, f"{where}: no button {turn['click']!r} in {[b.get('title') for b in _buttons(last)]}"
            text = chosen[0]["payload"]
            if chosen[0].get(SIGNATURE_KEY):
                metadata[SIGNATURE_KEY] = chosen[0][SIGNATURE_KEY]
        else:
            text = _dated(str(turn["user"]))
        out = CollectingOutputChannel()
        events_before = len((await agent.tracker_store.retrieve(sender) or SimpleNamespace(events=[])).events)
        await desk.receive(Incoming(channel, sender, text, metadata), agent.handle_message, out)
        last = out.messages
        said = _text(last)
        assert last, f"{where}: no answer at all"
        # a typed command is answered by the gateway alone: nothing reached the bot
        tracker = await agent.tracker_store.retrieve(sender) or DialogueStateTracker(sender, agent.domain.slots)
        if os.environ.get("JOURNEY_VERBOSE"):  # JOURNEY_VERBOSE=1 pytest -s: the conversation as it went
            parse = tracker.latest_message.parse_data or {}
            print(
                f"\n> {text}  [{(parse.get('intent') or {}).get('name')}]  {[(e['entity'], e['value']) for e in parse.get('entities', [])]}"
            )
            for message in last:
                print(f"  < {message.get('text')}  {[b.get('title') for b in message.get('buttons') or []]}")
            print("  slots:", {k: v for k, v in tracker.current_slot_values().items() if v not in (None, [], False, 0)})
        for expected in turn.get("says", []):
            assert _contains(said, expected), f"{where}: {expected!r} not in the answer:\n{said}"
        if turn.get("says_any"):
            assert any(_contains(said, e) for e in turn["says_any"]), f"{where}: none of {turn['says_any']} in:\n{said}"
        for unexpected in turn.get("not_says", []):
            assert not _contains(said, unexpected), f"{where}: {unexpected!r} must not be said:\n{said}"
        titles = [b.get("title") for b in _buttons(last)]
        for title in turn.get("buttons", []):
            assert any(_same(title, t) for t in titles), f"{where}: no button {title!r} in {titles}"
        script = turn.get("script", journey.get("script"))
        if script:
            wrong = wrong_script(last, script, desk.variant)
            assert not wrong, f"{where}: not in {script} script: {wrong}"
        if "intent" in turn:
            read = (tracker.latest_message.intent or {}).get("name")
            assert read == turn["intent"], f"{where}: the NLU read {read!r}, not {turn['intent']!r}"
        sent = [
            e.metadata.get("utter_action")
            for e in list(tracker.events)[events_before:]
            if isinstance(e, BotUttered) and e.metadata
        ]
        for response in turn.get("responses", []):
            assert response in sent, f"{where}: {response} not among {sent}"
        for response in turn.get("not_responses", []):
            assert response not in sent, f"{where}: {response} must not be sent ({sent})"
        for slot, value in (turn.get("slots") or {}).items():
            actual = tracker.get_slot(slot)
            if value == "*":
                assert actual not in (None, "", []), f"{where}: slot {slot} is not set"
            else:
                assert actual == value, f"{where}: slot {slot} is {actual!r}, not {value!r}"
        if "rows" in turn:
            now = _count_rows(db_path)
            for table, count in turn["rows"].items():
                assert (
                    now[table] - start_rows[table] == count
                ), f"{where}: {now[table] - start_rows[table]} new rows in {table}, not {count}"


async def test_another_server_or_a_restart_carries_the_script_on(agent, action_server):
    """Behind nginx, a WeChat or REST conversation's messages go to either Rasa server, and a
    restarted server knows no conversation: a message that does not tell its script is answered
    in the script the stored conversation records, whatever this server saw last."""
    one, two = Gateway(), Gateway()
    for server in (one, two):
        server.bind(SimpleNamespace(ctx=SimpleNamespace(agent=agent)))
    sender = f"journey-{uuid.uuid4().hex[:12]}"

    async def answer(server: Gateway, text: str) -> list[dict[str, Any]]:
        out = CollectingOutputChannel()
        await server.receive(Incoming("wechat", sender, text), agent.handle_message, out)
        assert out.messages, text
        return out.messages

    assert not wrong_script(await answer(one, "白金信用卡的年費是多少"), TRADITIONAL)
    assert not wrong_script(await answer(two, "ok"), TRADITIONAL)  # two never saw the conversation
    assert not wrong_script(await answer(two, "大额存单利率多少"), SIMPLIFIED)
    assert not wrong_script(await answer(one, "好的"), SIMPLIFIED)  # one last saw it in Traditional
    stored = await agent.tracker_store.retrieve(sender)
    recorded = [e.metadata.get("reply_script") for e in stored.events if e.type_name == "user"]
    assert recorded == [TRADITIONAL, TRADITIONAL, SIMPLIFIED, SIMPLIFIED]
