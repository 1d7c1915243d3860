"""Personal numbers through every channel: none survives in the tracker store, the logs, the
quality report or the replies, and the complaint form takes a call-back number in every format.

The corpus (:mod:`tests.banktext.corpus`, check digits computed independently of ``banktext``)
gives cards, resident IDs, mobiles and landlines, each written one of the ways customers type
them (spaces of every width, dashes, dots, brackets, +86, full-width digits, Chinese numerals,
a digit per space) inside a Simplified or a Traditional sentence. Every number goes through the
REST API, the website chat (socket.io) and WeChat (encrypted XML) of one Rasa app, around the
trained assistant, a live action server and a SQL tracker store, as `make run` serves them.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import os
import re
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from banktext import sealing
from bot.stores import TrackerStore
from tests.banktext.corpus import (
    CARD_FORMATS,
    CARDS,
    ID_FORMATS,
    IDS,
    LANDLINE_FORMATS,
    MOBILE_FORMATS,
    PHONES,
    SENTENCES,
    Number,
    leaked,
)
from tests.bot.conftest import ROOT, action_server, agent  # noqa: F401
from tests.channels.browser.socketio_customer import Customer
from tests.channels.fake_wechat import text_xml
from tests.channels.test_hardening import fake, rest, server  # noqa: F401  (REST, web chat and WeChat on one app)
from tests.channels.test_wechat import new_msg_id, new_openid

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: numbers per conversation: a conversation is a customer, not a stream of 200 numbers
PER_CONVERSATION = 8
#: a piece of a number this long that can still be read (separators skipped) counts as a leak
READABLE = 7
TICKET = re.compile(r"TS\d{6}[0-9A-F]{6}")


@dataclass(frozen=True)
class Sample:
    number: Number
    format: str
    written: str  # the number as typed
    text: str  # the sentence around it


def _formats(number: Number) -> dict:
    return {"card": CARD_FORMATS, "id18": ID_FORMATS, "id15": ID_FORMATS, "mobile": MOBILE_FORMATS}.get(
        number.kind, LANDLINE_FORMATS
    )


def _written(number: Number, render) -> str:
    if number.kind == "landline":
        return render(number.area, number.digits[len(number.area) :])
    return render(number.digits)


def corpus() -> list[Sample]:
    """Every number once, the formats of its kind taken in turn (so each format is used), the
    sentence and its script alternating."""
    samples = []
    topics = {"card": "card", "id18": "id", "id15": "id", "mobile": "phone", "landline": "phone"}
    for numbers in (CARDS, IDS, PHONES):
        for i, number in enumerate(numbers):
            formats = [
                (n, f) for n, f in _formats(number).items() if not (number.kind == "id15" and n == "lower-case x")
            ]
            name, render = formats[i % len(formats)]
            written = _written(number, render)
            templates = SENTENCES[topics[number.kind]][i % 2]
            samples.append(Sample(number, name, written, templates[i % len(templates)].format(written)))
    return samples


SAMPLES = corpus()


async def test_the_corpus_has_every_kind_and_format():
    assert len({s.number.digits for s in SAMPLES}) >= 200
    for kind in ("card", "id18", "id15", "mobile", "landline"):
        used = {s.format for s in SAMPLES if s.number.kind == kind}
        every = set(_formats(next(s.number for s in SAMPLES if s.number.kind == kind)))
        assert used >= every - {"lower-case x"}, (kind, every - used)


def exposed(sample: Sample, text: str, pieces: bool = True) -> bool:
    """Whether ``text`` shows ``sample``'s number: as typed, as plain digits, or (``pieces``) a piece
    of it long enough to identify it, whatever separators stand between the digits."""
    if sample.written in text or sample.number.digits in text:
        return True
    return pieces and leaked(sample.number.digits, text, READABLE - 1) is not None


def strings_of(value, key: str = "") -> list[str]:
    """The text in a stored event (ids and timestamps are not what a customer typed)."""
    if key.endswith(("id", "timestamp")):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings_of(v, str(k))]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v, key)]
    return []


@pytest.fixture(scope="module")
def key():
    previous = os.environ.get(sealing.KEY_ENV)
    os.environ[sealing.KEY_ENV] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    yield os.environ[sealing.KEY_ENV]
    if previous is None:
        os.environ.pop(sealing.KEY_ENV, None)
    else:
        os.environ[sealing.KEY_ENV] = previous


@pytest.fixture(scope="module")
def tracker_db(agent, tmp_path_factory):  # noqa: F811
    """The agent on a SQL tracker store (a scratch SQLite file), as `make run` has it."""
    path = tmp_path_factory.mktemp("pii") / "tracker.db"
    store = TrackerStore(domain=agent.domain, host=f"sqlite:///{path}")
    saved = agent.tracker_store, agent.processor.tracker_store
    agent.tracker_store = agent.processor.tracker_store = store
    yield path
    agent.tracker_store, agent.processor.tracker_store = saved


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(server, fake, tracker_db, key):  # noqa: F811
    """Every sample through every channel, the logs captured at DEBUG; what the customers read."""
    url, _ = server
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    replies: list[str] = []
    try:
        for start in range(0, len(SAMPLES), PER_CONVERSATION):
            batch = SAMPLES[start : start + PER_CONVERSATION]
            sender = uuid.uuid4().hex[:12]
            for sample in batch:
                status, answer = await rest(server, sample.text, sender)
                assert status == 200, sample
                replies += [str(r.get("text") or "") for r in answer]
            openid = new_openid()
            for sample in batch:
                xml = text_xml(openid, sample.text, new_msg_id())
                status, body = await fake.post(f"{url}/webhooks/wechat/webhook", xml, aes=True)
                assert status == 200, sample
                if body not in ("", "success"):
                    replies.append(fake.read_reply(body, aes=True)["Content"])
            customer = Customer(url)
            try:
                await customer.open()
                for sample in batch:
                    await customer.say(sample.text)
                    replies.append((await customer.next("bot_uttered", timeout=30)).get("text") or "")
                while not await customer.nothing_more(wait=0.5):
                    pass
                while not customer.received["bot_uttered"].empty():
                    replies.append(customer.received["bot_uttered"].get_nowait().get("text") or "")
            finally:
                await customer.close()
            replies += fake.sent_to(openid)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    return {"replies": replies, "logs": stream.getvalue()}


async def test_every_number_went_through_three_channels(run, tracker_db):
    with sqlite3.connect(tracker_db) as db:
        users = db.execute("select count(*) from events where type_name = 'user'").fetchone()[0]
    assert users >= 3 * len(SAMPLES)
    assert len(run["replies"]) >= 3 * len(SAMPLES)


async def test_no_number_survives_in_the_tracker_store(run, tracker_db):
    with sqlite3.connect(tracker_db) as db:
        rows = [json.loads(data) for (data,) in db.execute("select data from events")]
    texts = [s for row in rows for s in strings_of(row)]
    found = [f"{sample.format}: {sample.text}" for sample in SAMPLES if any(exposed(sample, t) for t in texts)]
    assert not found, f"{len(found)} numbers readable in the tracker store:\n" + "\n".join(found[:20])


async def test_no_number_survives_in_a_reply(run):
    found = [f"{sample.format}: {sample.text}" for sample in SAMPLES if any(exposed(sample, r) for r in run["replies"])]
    assert not found, f"{len(found)} numbers repeated to the customer:\n" + "\n".join(found[:20])


async def test_no_number_survives_in_the_logs(run, action_server):  # noqa: F811
    logs = run["logs"] + Path(action_server[1]).parent.joinpath("actions.log").read_text(encoding="utf-8")
    assert "Received user message" in logs or len(logs) > 1000, "the logs were not captured"
    found = [f"{sample.format}: {sample.text}" for sample in SAMPLES if exposed(sample, logs, pieces=False)]
    assert not found, f"{len(found)} numbers in the logs:\n" + "\n".join(found[:20])


async def test_no_number_survives_in_the_quality_report(run, tracker_db, action_server, tmp_path):  # noqa: F811
    out = tmp_path / "report.html"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KNOWLEDGE_DB_URL": f"sqlite:///{action_server[1]}",
        "TRACKER_STORE_URL": f"sqlite:///{tracker_db}",
    }
    done = subprocess.run(
        [str(ROOT / ".venv" / "actions" / "bin" / "python"), "-m", "desk", "report", "--out", str(out), "--days", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    html = out.read_text(encoding="utf-8")
    assert "plotly" in html.lower()
    found = [f"{s.format}: {s.text}" for s in SAMPLES if exposed(s, html, pieces=False) or exposed(s, done.stdout)]
    assert not found, f"{len(found)} numbers in the report:\n" + "\n".join(found[:20])


# --- the complaint form takes a call-back number in every format, through the web chat --------------

PHONE_SAMPLES = [
    (name, number, _written(number, render))
    for formats, kind in ((MOBILE_FORMATS, "mobile"), (LANDLINE_FORMATS, "landline"))
    for k, (name, render) in enumerate(formats.items())
    for number in [[p for p in PHONES if p.kind == kind][k % len([p for p in PHONES if p.kind == kind])]]
]


def _kept(kb: str, code: str) -> tuple[str, list[str]]:
    with sqlite3.connect(kb) as db:
        ref, contact = db.execute("select conversation_ref, contact from complaint where code = ?", (code,)).fetchone()
        query = "select sealed from callback_number where conversation_ref = ? and masked = ?"
        return contact, [sealed for (sealed,) in db.execute(query, (ref, contact))]


async def kept_for(kb: str, code: str, wait: float = 10.0) -> tuple[str, list[str]]:
    """The ticket's masked contact and the sealed numbers kept for it (the gateway hands the number
    over after the turn, so it may land just after the customer read the confirmation)."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        contact, sealed = _kept(kb, code)
        if sealed or asyncio.get_running_loop().time() > deadline:
            return contact, sealed
        await asyncio.sleep(0.1)


async def test_the_complaint_form_takes_a_call_back_number_in_every_format(
    server, tracker_db, key, action_server  # noqa: F811
):
    url, _ = server
    kb = str(action_server[1])
    refused, unsealed = [], []
    for name, number, written in PHONE_SAMPLES:
        customer = Customer(url)
        try:
            await customer.open()
            await customer.say("我要投诉，你们柜员态度太差了，让我排了两个小时的队还不耐烦")
            await customer.replies_until("电话", timeout=30)
            await customer.say(f"我的电话是{written}")
            try:
                seen = await customer.replies_until("已为您登记投诉", timeout=30)
            except AssertionError as failed:
                refused.append(f"{name}: {written} -> {failed}")
                continue
        finally:
            await customer.close()
        said = "\n".join(m.get("text") or "" for m in seen)
        mask = number.masked
        assert mask in said and not exposed(Sample(number, name, written, ""), said), said
        code = TICKET.search(said).group(0)
        contact, sealed = await kept_for(kb, code)
        assert contact == mask, (name, contact)
        if [sealing.unseal(s) for s in sealed] != [number.digits]:
            unsealed.append(f"{name}: {written} -> {len(sealed)} sealed")
    assert not refused, f"{len(refused)} of {len(PHONE_SAMPLES)} formats refused:\n" + "\n".join(refused)
    assert not unsealed, "call-back numbers not kept for staff:\n" + "\n".join(unsealed)
    assert len(PHONE_SAMPLES) == len(MOBILE_FORMATS) + len(LANDLINE_FORMATS)
