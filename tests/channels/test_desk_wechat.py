"""The staff desk on WeChat, end to end: a fake WeChat on loopback, the WeChat channel and the
desk API in a Rasa app serving the trained assistant (conversations in a SQL tracker store), a
live action server, and the staff desk itself (``python -m desk serve``, its own process).

The customer asks for a person on WeChat and hears the queue; an agent logs in to the desk,
takes the conversation, reads the transcript, replies (the customer receives it through the
customer-service API); the bot stays silent meanwhile; the agent resolves; the bot asks for a
rating, and the customer rates by replying with a menu number.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.run import configure_app
from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed, UserUttered

from bot.channels.desk import DeskBridgeInput
from bot.channels.wechat import AGENT_JOINED, BOT_BACK, WeChatInput
from bot.settings import WeChatSettings
from tests.bot.conftest import ACTION_TOKEN, ACTIONS_PY, MODEL, ROOT, _free_port, action_server  # noqa: F401
from tests.channels.fake_wechat import FakeWeChat, SanicOnLoopback, new_aes_key, text_xml, until

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN, APP_ID, APP_SECRET, AES_KEY = "yunlan-desk-token", "wx0desk0000000001", "desk-app-secret", new_aes_key()
PASSWORD = secrets.token_urlsafe(12)
_ids = iter(range(int(time.time()) * 1000, 10**15))


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    return tmp_path_factory.mktemp("desk-wechat") / "tracker.db"


@pytest.fixture(scope="module")
def bridge_token():
    token = secrets.token_hex(16)
    before = os.environ.get("DESK_BRIDGE_TOKEN")
    os.environ["DESK_BRIDGE_TOKEN"] = token
    yield token
    if before is None:
        os.environ.pop("DESK_BRIDGE_TOKEN", None)
    else:
        os.environ["DESK_BRIDGE_TOKEN"] = before


@pytest.fixture(scope="module")
def sql_agent(action_server, stores):  # noqa: F811
    """The trained assistant with the project's SQL tracker store, which the desk reads."""
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    from bot.stores import TrackerStore

    agent = Agent.load(
        str(MODEL), action_endpoint=EndpointConfig(url=action_server[0], headers={"X-Action-Token": ACTION_TOKEN})
    )
    store = TrackerStore(domain=agent.domain, host=f"sqlite:///{stores}")
    agent.tracker_store = store
    agent.processor.tracker_store = store  # type: ignore[union-attr]
    return agent


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake():
    wechat = await FakeWeChat(TOKEN, APP_ID, APP_SECRET, AES_KEY).start()
    yield wechat
    await wechat.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(sql_agent, fake, bridge_token):
    settings = WeChatSettings(
        token=TOKEN,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        encoding_aes_key=AES_KEY,
        api_base=fake.url,
        reply_deadline=60,
    )
    app = configure_app(input_channels=[WeChatInput(settings), DeskBridgeInput()], enable_api=False, route="/webhooks/")
    app.ctx.agent = sql_agent
    server = await SanicOnLoopback(app).start()
    yield server.url
    await server.stop()


@pytest.fixture(scope="module")
def desk(served, action_server, stores, bridge_token, tmp_path_factory):  # noqa: F811
    """The staff desk as `make run` starts it, on the action server's knowledge base."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KNOWLEDGE_DB_URL": f"sqlite:///{action_server[1]}",
        "TRACKER_STORE_URL": f"sqlite:///{stores}",
        "DESK_RASA_URL": served,
        "DESK_BRIDGE_TOKEN": bridge_token,
        "DESK_SECRET_KEY": secrets.token_hex(32),
    }
    add = [str(ACTIONS_PY), "-m", "desk", "user", "add", "wangmin", "--display-name", "王敏", "--password-stdin"]
    subprocess.run(add, cwd=ROOT, env=env, input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    port = _free_port()
    log = tmp_path_factory.mktemp("desk-log") / "desk.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(ACTIONS_PY), "-m", "desk", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                import urllib.request

                urllib.request.urlopen(url + "/login", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail(f"the desk did not start: {Path(log).read_text()}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Staff:
    """An agent at the desk over HTTP, as the console's page talks to it."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url, self.csrf = http, url, ""

    async def _token(self, path: str) -> str:
        async with self.http.get(self.url + path) as r:
            page = await r.text()
        return re.search(r'(?:name="csrf_token" value|name="csrf-token" content)="([^"]+)"', page).group(1)

    async def log_in(self, name: str) -> None:
        form = {"username": name, "password": PASSWORD, "csrf_token": await self._token("/login")}
        async with self.http.post(self.url + "/login", data=form, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
        self.csrf = await self._token("/")

    async def get(self, path: str) -> dict:
        async with self.http.get(self.url + path) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def post(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        async with self.http.post(self.url + path, json=body or {}, headers={"X-CSRFToken": self.csrf}) as r:
            return r.status, await r.json()


async def say(fake: FakeWeChat, url: str, openid: str, text: str) -> str:
    status, body = await fake.post(url, text_xml(openid, text, next(_ids)))
    assert status == 200, body
    return "" if body == "success" else fake.read_reply(body)["Content"]


async def test_a_person_takes_over_a_wechat_conversation(served, fake, desk, sql_agent):
    webhook = f"{served}/webhooks/wechat/webhook"
    openid = "o" + uuid.uuid4().hex[:27]
    await say(fake, webhook, openid, "你好")
    queued = await say(fake, webhook, openid, "帮我转人工客服")
    assert "排队编号" in queued and "取消排队" in queued, queued

    # unsafe: the cookie jar keeps cookies of an IP address (the desk on 127.0.0.1)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        staff = Staff(http, desk)
        await staff.log_in("wangmin")
        waiting = (await staff.get("/api/queue"))["waiting"]
        mine = [w for w in waiting if w["channel"] == "wechat" and "转人工" in w["preview"]]
        assert mine, waiting
        handoff = mine[0]["id"]
        assert (await staff.post(f"/api/handoffs/{handoff}/take"))[0] == 200
        await until(lambda: fake.sent_to(openid) and fake.sent_to(openid)[-1] == AGENT_JOINED.format(agent="王敏"))

        # the customer writes: stored, no answer from the bot; the agent reads it
        assert await say(fake, webhook, openid, "我的信用卡被冻结了，卡号6222021234567890123") == ""
        seen = await staff.get(f"/api/handoffs/{handoff}")
        texts = [t["text"] for t in seen["transcript"] if t["who"] == "customer"]
        assert texts[-1].startswith("我的信用卡被冻结了") and "6222021234567890123" not in texts[-1]

        status, _ = await staff.post(f"/api/handoffs/{handoff}/reply", {"text": "您好，我是王敏，帮您查一下冻结原因。"})
        assert status == 200
        await until(lambda: fake.sent_to(openid)[-1] == "您好，我是王敏，帮您查一下冻结原因。")

        assert (await staff.post(f"/api/handoffs/{handoff}/resolve"))[0] == 200
        await until(lambda: any("打个分" in m for m in fake.sent_to(openid)))
        assert BOT_BACK in fake.sent_to(openid)
        rating = next(m for m in fake.sent_to(openid) if "打个分" in m)
        assert "1. 5 非常满意" in rating or "5 非常满意" in rating, rating

    thanks = await say(fake, webhook, openid, "1")  # the first item of the menu: 5 非常满意
    assert "感谢您的评价" in thanks and "跳过" in thanks, thanks  # a comment is invited, and can be skipped
    answer = await say(fake, webhook, openid, "信用卡年费多少")
    assert "年费" in answer and "打个分" not in answer

    tracker = await sql_agent.tracker_store.retrieve(openid)
    events = list(tracker.events)
    paused = next(i for i, e in enumerate(events) if isinstance(e, ConversationPaused))
    resumed = next(i for i, e in enumerate(events) if isinstance(e, ConversationResumed))
    held = events[paused:resumed]
    assert [e.text for e in held if isinstance(e, UserUttered)] == [texts[-1]]
    assert [e.metadata.get("agent") for e in held if isinstance(e, BotUttered)] == ["王敏"]


async def test_the_desk_api_refuses_callers_without_its_token(served):
    async with aiohttp.ClientSession() as http:
        for token in ("", "Bearer wrong"):
            async with http.post(
                f"{served}/webhooks/desk/say",
                json={"conversation_id": "x", "agent": "a", "text": "hi"},
                headers={"Authorization": token},
            ) as r:
                assert r.status == 401
        async with http.get(f"{served}/webhooks/desk/health") as r:
            assert (await r.json())["status"] == "ok"
