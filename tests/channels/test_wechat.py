"""The WeChat channel end to end: a fake WeChat on loopback talks real HTTP to the channel,
which runs in a Rasa app with the trained assistant and a live action server.

The answers are the real bot's; the tracker store shows what reached the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid

import pytest
import pytest_asyncio
from rasa.core.run import configure_app
from rasa.shared.core.events import UserUttered

from banktext import is_traditional, to_traditional
from bot.channels.gateway import gateway
from bot.channels.wechat import AGENT_JOINED, BOT_BACK, MENU_HINT, PLEASE_WAIT, REST_DELAY, TEXT_ONLY, WeChatInput
from bot.settings import WeChatSettings
from tests.bot.conftest import action_server, agent  # noqa: F401  (the trained model + live action server)
from tests.channels.fake_wechat import (
    ACCOUNT,
    FakeWeChat,
    SanicOnLoopback,
    cdata,
    event_xml,
    message_xml,
    new_aes_key,
    sign,
    text_xml,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN, APP_ID, APP_SECRET, AES_KEY = "yunlan-test-token", "wx5e1f0c2a9b3d4e6f", "test-app-secret", new_aes_key()
# WeChat's own limit; the channel's is a little lower. Both in UTF-8 bytes.
WECHAT_TEXT_LIMIT = 2048
# Long enough that the real bot always makes it on a busy 2-core machine: these tests
# are about the passive path. The fallback test sets its own, tiny deadline.
PASSIVE_DEADLINE = 60.0
_ids = itertools.count(int(time.time()) * 1000)


def new_openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


def new_msg_id() -> int:
    return next(_ids)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake():
    wechat = await FakeWeChat(TOKEN, APP_ID, APP_SECRET, AES_KEY).start()
    yield wechat
    await wechat.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(agent, fake):  # noqa: F811
    """The channel, configured as credentials.yml would, inside a Rasa app serving the trained assistant."""
    settings = WeChatSettings(
        token=TOKEN,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        encoding_aes_key=AES_KEY,
        api_base=fake.url,
        reply_deadline=PASSIVE_DEADLINE,
    )
    channel = WeChatInput(settings)
    app = configure_app(input_channels=[channel], enable_api=False, route="/webhooks/")
    app.ctx.agent = agent
    server = await SanicOnLoopback(app).start()
    yield channel, f"{server.url}/webhooks/wechat/webhook"
    await server.stop()


@pytest.fixture
def channel(served) -> WeChatInput:
    return served[0]


@pytest.fixture
def url(served) -> str:
    return served[1]


async def user_events(agent, openid: str) -> list[UserUttered]:  # noqa: F811
    """What reached the bot from this customer."""
    tracker = await agent.tracker_store.retrieve(openid)
    return [] if tracker is None else [e for e in tracker.events if isinstance(e, UserUttered)]


@contextlib.asynccontextmanager
async def slow_bot(openid: str, seconds: float):
    """For this customer only, the bot takes ``seconds`` longer; yields an event set when it starts."""
    started = asyncio.Event()

    async def delay(incoming):
        if incoming.sender_id == openid:
            started.set()
            await asyncio.sleep(seconds)
        return incoming

    gateway.add_inbound_hook(delay)  # a gateway hook runs inside the bot turn
    try:
        yield started
    finally:
        gateway._hooks.remove(delay)


async def ask(fake: FakeWeChat, url: str, openid: str, text: str, aes: bool = False) -> str:
    status, body = await fake.post(url, text_xml(openid, text, new_msg_id()), aes=aes)
    assert status == 200, body
    return fake.read_reply(body, aes=aes)["Content"]


# --- URL verification ---------------------------------------------------------


async def test_url_verification_answers_echostr(fake, url):
    status, content_type, body = await fake.get(url, fake.signed(echostr="5837397206891375203"))
    assert (status, body) == (200, "5837397206891375203")
    assert content_type.startswith("text/plain")


@pytest.mark.parametrize("case", ["wrong signature", "no signature", "stale timestamp"])
async def test_url_verification_refuses_bad_signatures(case, fake, url):
    params = fake.signed(echostr="123")
    if case == "wrong signature":
        params["signature"] = sign("another-token", params["timestamp"], params["nonce"])
    elif case == "no signature":
        del params["signature"]
    else:  # correctly signed, but an hour old: a replay
        params["timestamp"] = str(int(time.time()) - 3600)
        params["signature"] = sign(TOKEN, params["timestamp"], params["nonce"])
    status, _, body = await fake.get(url, params)
    assert status == 403 and "123" not in body


# --- text messages ------------------------------------------------------------


@pytest.mark.parametrize("aes", [False, True], ids=["plaintext", "safe mode"])
async def test_product_question_is_answered_passively(aes, agent, fake, url):  # noqa: F811
    openid, msg_id = new_openid(), new_msg_id()
    status, body = await fake.post(url, text_xml(openid, "大额存单利率多少", msg_id), aes=aes)
    assert status == 200
    assert ("<Encrypt>" in body) == aes and ("大额存单" in body) != aes  # safe mode: nothing readable on the wire
    reply = fake.read_reply(body, aes=aes)
    assert (reply["MsgType"], reply["ToUserName"], reply["FromUserName"]) == ("text", openid, ACCOUNT)
    assert "大额存单" in reply["Content"] and "利率" in reply["Content"] and "%" in reply["Content"]
    [event] = await user_events(agent, openid)
    assert event.text == "大额存单利率多少" and event.input_channel == "wechat"
    assert event.intent_name == "ask_interest_rate"
    assert event.metadata.get("channel_message_id") == str(msg_id)
    assert fake.sent_to(openid) == []  # nothing went through the customer-service API


async def test_voice_with_speech_recognition_is_answered_like_text(agent, fake, url):  # noqa: F811
    openid = new_openid()
    xml = message_xml(
        openid, "voice", MediaId="media-1", Format="amr", Recognition="信用卡年费多少", MsgId=new_msg_id()
    )
    status, body = await fake.post(url, xml)
    assert status == 200 and "年费" in fake.read_reply(body)["Content"]
    assert [e.text for e in await user_events(agent, openid)] == ["信用卡年费多少"]


async def test_card_and_phone_numbers_are_masked_before_the_bot(agent, fake, url):  # noqa: F811
    openid = new_openid()
    await ask(fake, url, openid, "我的卡号6222021234567890123丢了，手机13812345678")
    [event] = await user_events(agent, openid)
    assert "6222021234567890123" not in event.text and "13812345678" not in event.text
    assert "138****5678" in event.text and event.text.startswith("我的卡号6222*")


async def test_markup_inside_the_customers_text_is_not_refused(agent, fake, url):  # noqa: F811
    # The hostile-XML guard looks outside CDATA only: a customer may type "<!DOCTYPE".
    openid = new_openid()
    content = await ask(fake, url, openid, "<!DOCTYPE html> 这是什么")
    assert content
    assert [e.text for e in await user_events(agent, openid)] == ["<!DOCTYPE html> 这是什么"]


# --- subscribe and menus ------------------------------------------------------


async def test_subscribe_is_welcomed_with_a_numbered_menu(agent, fake, url):  # noqa: F811
    openid = new_openid()
    xml = event_xml(openid, "subscribe")
    status, body = await fake.post(url, xml)
    assert status == 200
    content = fake.read_reply(body)["Content"]
    lines = content.splitlines()
    assert "欢迎" in lines[0]
    assert lines[1:] == [
        "1. 产品与利率",
        "2. 帮我推荐产品",
        "3. 查找网点",
        "4. 预约办理",
        "5. 卡丢了/挂失",
        "6. 转人工客服",
        MENU_HINT,
    ]
    [event] = await user_events(agent, openid)
    assert event.intent_name == "greet"
    # WeChat retries the event (same sender and CreateTime): the same welcome, no second greeting
    status, body = await fake.post(url, xml)
    assert fake.read_reply(body)["Content"] == content
    assert len(await user_events(agent, openid)) == 1


async def test_replying_with_a_number_chooses_that_button(agent, fake, url):  # noqa: F811
    openid = new_openid()
    await fake.post(url, event_xml(openid, "subscribe"))

    content = await ask(fake, url, openid, "1")
    assert content.startswith("请问您想了解哪类产品") and "3. 大额存单" in content
    assert (await user_events(agent, openid))[-1].text == "/ask_product_info"

    content = await ask(fake, url, openid, "３")  # full-width digit
    assert (await user_events(agent, openid))[-1].text == '/ask_product_info{"product_type": "certificate_of_deposit"}'
    assert "大额存单" in content

    await ask(fake, url, openid, "99")  # no such entry: the text goes to the bot as it is
    assert (await user_events(agent, openid))[-1].text == "99"


async def test_unsubscribe_gets_no_reply_and_no_bot_turn(agent, fake, url):  # noqa: F811
    openid = new_openid()
    status, body = await fake.post(url, event_xml(openid, "unsubscribe"))
    assert (status, body) == (200, "success")
    assert await user_events(agent, openid) == []


# --- other message types ------------------------------------------------------

MEDIA = {
    "image": {"PicUrl": "http://mmbiz.qpic.cn/x.jpg", "MediaId": "m1"},
    "voice": {"MediaId": "m2", "Format": "amr"},
    "video": {"MediaId": "m3", "ThumbMediaId": "t3"},
    "shortvideo": {"MediaId": "m4", "ThumbMediaId": "t4"},
    "location": {"Location_X": "39.9", "Location_Y": "116.4", "Scale": "15", "Label": "北京市海淀区"},
    "link": {"Title": "理财", "Description": "看看", "Url": "https://example.com/a"},
}


@pytest.mark.parametrize("kind", sorted(MEDIA))
async def test_other_message_types_get_a_polite_text_only_answer(kind, agent, fake, url):  # noqa: F811
    openid = new_openid()
    status, body = await fake.post(url, message_xml(openid, kind, **MEDIA[kind], MsgId=new_msg_id()))
    assert status == 200
    reply = fake.read_reply(body)
    assert reply["Content"] == TEXT_ONLY and reply["ToUserName"] == openid
    assert await user_events(agent, openid) == []


# --- the 5-second rule and retries --------------------------------------------


async def test_answer_after_the_deadline_comes_through_the_customer_service_api(
    agent, channel, fake, url, monkeypatch  # noqa: F811
):
    monkeypatch.setattr(channel, "reply_deadline", 0.01)  # the real bot cannot make it
    openid = new_openid()
    xml = text_xml(openid, "信用卡年费多少", new_msg_id())

    async with slow_bot(openid, 1.0):  # and certainly not before the retry below
        status, body = await fake.post(url, xml)
        assert status == 200 and fake.read_reply(body)["Content"] == PLEASE_WAIT
        status, body = await fake.post(url, xml)  # WeChat retries while the bot is still busy
        assert status == 200 and fake.read_reply(body)["Content"] == PLEASE_WAIT

        await until(lambda: fake.sent_to(openid))
    await asyncio.sleep(REST_DELAY + 1.0)  # anything that would follow has arrived by now
    [answer] = fake.sent_to(openid)
    assert "年费" in answer and answer.rstrip().endswith(MENU_HINT)
    assert len(await user_events(agent, openid)) == 1

    status, body = await fake.post(url, xml)  # a late retry: already delivered, nothing to add
    assert (status, body) == (200, "success")
    await asyncio.sleep(0.5)
    assert len(fake.sent_to(openid)) == 1 and len(await user_events(agent, openid)) == 1


async def test_an_answer_wechat_stopped_waiting_for_comes_through_the_customer_service_api(
    agent, fake, url  # noqa: F811
):
    openid = new_openid()
    async with slow_bot(openid, 0.5) as bot_started:  # the bot takes longer than WeChat waits
        request = asyncio.create_task(fake.post(url, text_xml(openid, "信用卡年费多少", new_msg_id())))
        await asyncio.wait_for(bot_started.wait(), timeout=30)
        request.cancel()  # WeChat hangs up (its 5 s are over) while the bot is busy
        await until(lambda: fake.sent_to(openid))
    await asyncio.sleep(REST_DELAY + 1.0)
    [answer] = fake.sent_to(openid)
    assert "年费" in answer
    assert len(await user_events(agent, openid)) == 1


async def test_concurrent_retries_share_one_bot_turn(agent, fake, url):  # noqa: F811
    openid = new_openid()
    xml = text_xml(openid, "大额存单起存金额是多少", new_msg_id())
    answers = await asyncio.gather(*(fake.post(url, xml) for _ in range(3)))
    assert {status for status, _ in answers} == {200}
    contents = {fake.read_reply(body)["Content"] for _, body in answers}
    assert len(contents) == 1 and "大额存单" in contents.pop()
    assert len(await user_events(agent, openid)) == 1

    # a retry after the answer: the same passive reply again, still one turn
    status, body = await fake.post(url, xml)
    assert fake.read_reply(body)["Content"] == fake.read_reply(answers[0][1])["Content"]
    assert len(await user_events(agent, openid)) == 1
    assert fake.sent_to(openid) == []


async def test_long_answer_is_split_within_wechats_limit(agent, fake, url):  # noqa: F811
    openid = new_openid()
    passive = await ask(fake, url, openid, "比较一下大额存单、定期存款、活期存款和通知存款")
    await until(lambda: fake.sent_to(openid))
    await asyncio.sleep(REST_DELAY + 1.0)
    parts = [passive, *fake.sent_to(openid)]
    assert len(parts) >= 2, "this comparison is longer than one WeChat message"
    assert all(len(part.encode("utf-8")) <= WECHAT_TEXT_LIMIT for part in parts)
    whole = "\n\n".join(parts)
    assert whole.startswith("为您对比以下产品") and "提前支取" in whole and "风险等级" in whole
    assert whole.endswith(f"1. 帮我推荐\n{MENU_HINT}")  # the menu comes last, after all the rows
    assert len(await user_events(agent, openid)) == 1


# --- refused requests -----------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]><xml><ToUserName>{a}</ToUserName><FromUserName>{u}</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>{a}</ToUserName><FromUserName>{u}</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"
)


def _bad_request(case: str, openid: str, fake: FakeWeChat) -> tuple[str | bytes, bool, dict]:
    """(body, safe mode, query overrides) of one hostile or broken request."""
    text = text_xml(openid, "大额存单利率多少", new_msg_id())
    if case == "bad signature":
        return text, False, {"signature": "0" * 40}
    if case == "bad msg_signature":
        return text, True, {"msg_signature": "0" * 40}
    if case == "XXE":
        return XXE.format(a=ACCOUNT, u=openid), False, {}
    if case == "bare DOCTYPE":  # no entities: only the channel's own guard refuses this one
        return "<!DOCTYPE xml>" + text, False, {}
    if case == "billion laughs":
        return BILLION_LAUGHS.format(a=ACCOUNT, u=openid), False, {}
    if case == "XXE inside safe mode":
        return XXE.format(a=ACCOUNT, u=openid), True, {}
    if case == "1 MB body":
        return text_xml(openid, "啊" * 350_000, new_msg_id()), False, {}
    if case == "not XML":
        return "MsgType=text&Content=hello", False, {}
    if case == "not UTF-8":
        return "<xml><Content>大额存单</Content></xml>".encode("gbk"), False, {}
    if case == "missing MsgType":
        return text.replace(f"<MsgType>{cdata('text')}</MsgType>", ""), False, {}
    if case == "missing FromUserName":
        return text.replace(f"<FromUserName>{cdata(openid)}</FromUserName>", ""), False, {}
    if case == "text without MsgId":
        return message_xml(openid, "text", Content="你好"), False, {}
    if case == "nested MsgType":
        return text.replace(cdata("text"), "<a>text</a>"), False, {}
    if case == "no xml root":
        return text.replace("<xml>", "<root>").replace("</xml>", "</root>"), False, {}
    if case == "garbage ciphertext":
        encrypt = "bm90IGEgY2lwaGVydGV4dA=="
        params = fake.signed(encrypt_type="aes")
        params["msg_signature"] = sign(TOKEN, params["timestamp"], params["nonce"], encrypt)
        return f"<xml><Encrypt>{cdata(encrypt)}</Encrypt></xml>", False, params
    if case == "encrypted for another AppID":
        other = FakeWeChat(TOKEN, "wx_someone_else", APP_SECRET, AES_KEY)
        encrypt = other.encrypt(text.encode())
        params = fake.signed(encrypt_type="aes")
        params["msg_signature"] = sign(TOKEN, params["timestamp"], params["nonce"], encrypt)
        return f"<xml><Encrypt>{cdata(encrypt)}</Encrypt></xml>", False, params
    raise AssertionError(case)


REFUSED = {
    "bad signature": 403,
    "bad msg_signature": 403,
    "XXE": 400,
    "bare DOCTYPE": 400,
    "billion laughs": 400,
    "XXE inside safe mode": 400,
    "1 MB body": 400,
    "not XML": 400,
    "not UTF-8": 400,
    "missing MsgType": 400,
    "missing FromUserName": 400,
    "text without MsgId": 400,
    "nested MsgType": 400,
    "no xml root": 400,
    "garbage ciphertext": 400,
    "encrypted for another AppID": 400,
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_bad_requests_are_refused_before_the_bot(case, agent, fake, url):  # noqa: F811
    openid = new_openid()
    body, aes, params = _bad_request(case, openid, fake)
    conversations = set(await agent.tracker_store.keys())
    sent = len(fake.sent)
    status, answer = await fake.post(url, body, aes=aes, params=params)
    assert status == REFUSED[case], answer
    assert "root:" not in answer and "lollol" not in answer
    assert set(await agent.tracker_store.keys()) == conversations  # nothing reached the bot
    assert len(fake.sent) == sent


# --- the gateway reaches WeChat customers ---------------------------------------------


async def test_gateway_delivers_and_announces_human_agents(agent, fake, url):  # noqa: F811
    openid = new_openid()
    await ask(fake, url, openid, "你好")  # the gateway now knows the customer is on WeChat
    heard = []

    async def agent_console(incoming, agent_name):
        heard.append((incoming.text, agent_name))

    gateway.add_agent_listener(agent_console)
    try:
        assert await gateway.hand_over(openid, "王经理")
        assert fake.sent_to(openid)[-1] == AGENT_JOINED.format(agent="王经理")

        status, body = await fake.post(url, text_xml(openid, "我的卡被锁了，手机13812345678", new_msg_id()))
        assert (status, body) == (200, "success")  # the agent answers, not the bot
        assert heard == [("我的卡被锁了，手机138****5678", "王经理")]
        # stored in the paused conversation (the desk's transcript), masked, and not answered
        stored = await user_events(agent, openid)
        assert [e.text for e in stored][-1] == "我的卡被锁了，手机138****5678" and len(stored) == 2
        assert (await agent.tracker_store.retrieve(openid)).is_paused()
        assert fake.sent_to(openid)[-1] == AGENT_JOINED.format(agent="王经理")

        long_text = "\n".join(f"第{i}条：请携带本人有效身份证件到网点办理。" * 3 for i in range(40))
        assert await gateway.send(openid, [{"text": "请看办理须知："}, {"text": long_text}])
        notes = fake.sent_to(openid)[1:]
        assert len(notes) >= 2 and all(len(n.encode("utf-8")) <= WECHAT_TEXT_LIMIT for n in notes)
        assert notes[0].startswith("请看办理须知：") and notes[-1].endswith(
            "第39条：请携带本人有效身份证件到网点办理。"
        )

        assert await gateway.hand_over(openid, None)
        assert fake.sent_to(openid)[-1] == BOT_BACK
    finally:
        gateway._agent_listeners.remove(agent_console)
        await gateway.hand_over(openid, None)


# --- replies in the customer's script -----------------------------------------------------


async def test_a_traditional_customer_reads_traditional_menus_and_notices(agent, fake, url):  # noqa: F811
    openid = new_openid()
    content = await ask(fake, url, openid, "我想了解一下你們的產品")
    assert content.startswith("請問您想了解哪類產品") and "3. 大額存單" in content
    assert "4. 借記卡" in content  # a label keeps its word: typed back, it reads as 借记卡
    assert content.endswith(to_traditional(MENU_HINT)) and MENU_HINT not in content
    # a number picks a button: its payload is the bot's own words, the script stays Traditional
    content = await ask(fake, url, openid, "3")
    assert (await user_events(agent, openid))[-1].text.startswith("/ask_product_info")
    assert is_traditional(content) and to_traditional(content) == content

    assert await gateway.hand_over(openid, "王经理")  # the notice in Traditional, the name as written
    assert fake.sent_to(openid)[-1] == to_traditional(AGENT_JOINED).format(agent="王经理")
    assert await gateway.agent_says(openid, "王经理", "您好，这里是人工客服")
    assert fake.sent_to(openid)[-1] == "您好，这里是人工客服"  # a person's reply as typed
    assert await gateway.hand_over(openid, None)
    assert fake.sent_to(openid)[-1] == to_traditional(BOT_BACK)
    # writing Simplified switches back
    content = await ask(fake, url, openid, "大额存单利率是多少")
    assert "大额存单" in content and not is_traditional(content)
