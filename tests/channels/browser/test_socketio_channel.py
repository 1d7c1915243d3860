"""The website channel in-process, behind python-socketio clients: rooms, the gateway, the page's routes.

The channel runs on a bare Sanic app with the scripted bot of stub_server.py (it echoes
"收到：<text>") and a fresh gateway per test, so the tests can call ``gateway.hand_over``
and ``gateway.send`` themselves, as a contact-centre integration would.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import aiohttp
import pytest
import socketio
from sanic import Sanic

from bot.channels import web
from bot.channels.gateway import Gateway
from tests.channels.browser.conftest import free_port
from tests.channels.browser.socketio_customer import TRANSPORTS, Customer
from tests.channels.browser.stub_server import AGENT, build_app


@dataclass
class Stub:
    url: str
    gateway: Gateway
    customers: list = field(default_factory=list)

    def customer(self) -> Customer:
        self.customers.append(Customer(self.url))
        return self.customers[-1]


@pytest.fixture
async def stub(monkeypatch):
    gateway = Gateway()
    monkeypatch.setattr(web, "gateway", gateway)
    # several apps in one process: sanic then keeps its start-up rewrites re-entrant
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = build_app(gateway)
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    # create_server has bound the socket already; these run the app's start-up listeners
    await server.startup()
    await server.before_start()
    await server.after_start()
    stub = Stub(f"http://127.0.0.1:{port}", gateway)
    yield stub
    for customer in stub.customers:
        if customer.sio.connected:
            await customer.close()
    await server.before_stop()
    server.close()
    await server.wait_closed()
    await server.after_stop()


async def test_every_page_of_a_session_gets_the_replies(stub):
    """The fix over rasa 3.6: enter_room is awaited, so replies to the session's room arrive."""
    first, second, stranger = stub.customer(), stub.customer(), stub.customer()
    session = await first.open()
    assert re.fullmatch(r"[0-9a-f]{32}\.[0-9a-f]{32}", session)  # the conversation id and its signature
    assert await second.open(session) == session
    await stranger.open()

    await first.say("你好")
    assert (await first.next())["text"] == "收到：你好"
    assert (await second.next())["text"] == "收到：你好"
    assert await stranger.nothing_more()


async def test_a_session_survives_a_reconnect(stub):
    before = stub.customer()
    session = await before.open()
    await before.say("第一句")
    await before.next()
    await before.close()

    after = stub.customer()
    assert await after.open(session) == session
    assert await stub.gateway.send(after.conversation, [{"text": "您之前的问题已处理。"}])
    assert (await after.next())["text"] == "您之前的问题已处理。"


async def test_deliver_turns_rasa_messages_into_the_pages_format(stub):
    customer = stub.customer()
    await customer.open()
    await customer.say("你好")  # the gateway learns the conversation lives on the web channel
    await customer.next()
    assert stub.gateway.channel_of(customer.conversation) == "web"

    await stub.gateway.send(
        customer.conversation,
        [
            {"text": "第一段\n\n第二段"},
            {"text": "请选择：", "buttons": [{"title": "大额存单", "payload": "/ask_product_info"}]},
            {"image": "https://example.com/card.png"},
            {"custom": {"kind": "survey"}},
        ],
    )
    received = [await customer.next() for _ in range(5)]
    # every button carries the signature of its payload for this conversation
    signatures = [r.pop("payload_sig") for m in received for r in m.get("quick_replies", [])]
    assert len(signatures) == 1 and len(signatures[0]) == 32
    assert received == [
        {"text": "第一段"},
        {"text": "第二段"},
        {
            "text": "请选择：",
            "quick_replies": [{"content_type": "text", "title": "大额存单", "payload": "/ask_product_info"}],
        },
        {"attachment": {"type": "image", "payload": {"src": "https://example.com/card.png"}}},
        {"custom": {"kind": "survey"}},
    ]


async def test_the_page_is_told_when_an_agent_takes_over_and_gives_back(stub):
    customer = stub.customer()
    session = await customer.open()
    assert await customer.next("agent_status") == {"agent": None}
    await customer.say("你好")
    await customer.next()

    assert await stub.gateway.hand_over(customer.conversation, AGENT)
    assert await customer.next("agent_status") == {"agent": AGENT}
    await customer.say("我要办挂失")
    # the agent listener got it, not the bot
    assert (await customer.next())["text"] == "人工客服已收到：我要办挂失"

    # a page opened later learns at once that the agent holds the conversation
    later = stub.customer()
    await later.open(session)
    assert await later.next("agent_status") == {"agent": AGENT}

    assert await stub.gateway.hand_over(customer.conversation, None)
    assert await customer.next("agent_status") == {"agent": None}
    assert await later.next("agent_status") == {"agent": None}
    await customer.say("你好")
    assert (await customer.next())["text"] == "收到：你好"


@pytest.mark.parametrize(
    "requested", ["admin", "../../etc", "A" * 32, "0" * 31, "0" * 32, "0" * 32 + "." + "0" * 32, 12345, ""]
)
async def test_only_session_ids_the_channel_issues_are_accepted(stub, requested):
    customer = stub.customer()
    session = await customer.open(requested)
    assert session != requested and re.fullmatch(r"[0-9a-f]{32}\.[0-9a-f]{32}", session)


async def test_a_known_conversation_id_without_its_signature_opens_a_new_session(stub):
    owner, intruder = stub.customer(), stub.customer()
    await owner.open()
    got = await intruder.open(owner.conversation)
    assert got.split(".")[0] != owner.conversation
    await owner.say("只有我能看到")
    await owner.next()
    assert await intruder.nothing_more()


async def test_a_socket_speaks_only_for_the_session_it_asked_for(stub):
    victim, intruder = stub.customer(), stub.customer()
    victims_session = await victim.open()
    await intruder.open(request=False)
    await intruder.say("我是冒充的", session_id=victims_session)  # never asked for a session
    assert await victim.nothing_more() and await intruder.nothing_more()

    await intruder.sio.emit("session_request", {"session_id": None})
    await intruder.next("session_confirm")
    await intruder.say("再试一次", session_id=victims_session)
    assert (await intruder.next())["text"] == "收到：再试一次"
    assert await victim.nothing_more()


async def test_personal_numbers_are_masked_before_the_bot(stub):
    customer = stub.customer()
    await customer.open()
    await customer.say("我的卡号6222020200112233445丢了，手机13812345678")
    echo = (await customer.next())["text"]
    assert "6222020200112233445" not in echo and "13812345678" not in echo
    assert echo == "收到：我的卡号6222***********3445丢了，手机138****5678"


async def test_overlong_and_malformed_messages(stub):
    customer = stub.customer()
    await customer.open()
    await customer.sio.emit("user_uttered", "not a dict")
    await customer.sio.emit("user_uttered", {"message": {"nested": 1}})
    assert await customer.nothing_more()
    await customer.say("长" * 600)
    assert (await customer.next())["text"] == "收到：" + "长" * web.MAX_MESSAGE_CHARS


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.handlers: list[str] = []
        self.styles = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        if tag == "style" or "style" in attrs:
            self.styles += 1
        self.handlers += [name for name in attrs if name.startswith("on")]


async def test_the_page_and_its_assets_are_served_with_strict_headers(stub):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stub.url}/chat", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/webhooks/web/"
        async with http.get(f"{stub.url}/webhooks/web/") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
            csp = r.headers["Content-Security-Policy"]
            page = await r.text()
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        parsed = _Scripts()
        parsed.feed(page)
        assert [s.get("src") for s in parsed.scripts] == ["vendor/socket.io.min.js", "chat.js"]
        assert parsed.handlers == [] and parsed.styles == 0
        assert 'name="viewport"' in page and 'aria-live="polite"' in page and 'maxlength="500"' in page

        for asset, kind in [
            ("chat.js", "text/javascript"),
            ("chat.css", "text/css"),
            ("vendor/socket.io.min.js", "text/javascript"),
        ]:
            async with http.get(f"{stub.url}/webhooks/web/{asset}") as r:
                assert r.status == 200 and r.headers["Content-Type"].startswith(kind), asset
                assert r.headers["X-Content-Type-Options"] == "nosniff"
        async with http.get(f"{stub.url}/webhooks/web/config.json") as r:
            config = await r.json()
        assert config["socket_path"] == "/socket.io" and config["agent_status_evt"] == "agent_status"
        for outside in ["package.json", "node_modules/socket.io-client/package.json", "..%2f..%2fcredentials.yml"]:
            async with http.get(f"{stub.url}/webhooks/web/{outside}") as r:
                assert r.status == 404, outside


async def test_other_sites_cannot_open_a_socket(stub):
    """A page on another origin cannot drive a customer's conversation from their browser."""
    customer = stub.customer()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await customer.sio.connect(stub.url, headers={"Origin": "https://evil.example"}, transports=TRANSPORTS)
    assert not customer.sio.connected
    await asyncio.sleep(0)
    same_site = stub.customer()
    await same_site.sio.connect(stub.url, headers={"Origin": stub.url}, transports=TRANSPORTS)
    assert same_site.sio.connected


def test_the_channel_reads_its_credentials():
    channel = web.WebChatInput.from_credentials(
        {
            "agent_status_evt": "agent",
            "session_persistence": True,
            "cors_allowed_origins": ["https://www.yunlan.example"],
        }
    )
    assert channel.name() == "web" and channel.session_persistence
    assert channel.page_config()["agent_status_evt"] == "agent"
    assert channel.cors_allowed_origins == ["https://www.yunlan.example"]
