"""The customer-service API client against the fake WeChat: access tokens, refreshes, errors, local mode."""

from __future__ import annotations

import pytest
import pytest_asyncio

from bot.channels.wechat_client import WeChatAPI, WeChatAPIError
from tests.channels.fake_wechat import FakeWeChat, new_aes_key

APP_ID, APP_SECRET = "wx5e1f0c2a9b3d4e6f", "client-test-secret"


@pytest_asyncio.fixture
async def fake():
    wechat = await FakeWeChat("token", APP_ID, APP_SECRET, new_aes_key()).start()
    yield wechat
    await wechat.stop()


@pytest_asyncio.fixture
async def api(fake):
    client = WeChatAPI(APP_ID, APP_SECRET, fake.url)
    yield client
    await client.close()


async def test_messages_are_sent_with_one_cached_token(api, fake):
    await api.send_text("o1", "您好，大额存单1年期利率1.15%")
    await api.send_text("o2", "第二条")
    assert [(m["touser"], m["content"]) for m in fake.sent] == [
        ("o1", "您好，大额存单1年期利率1.15%"),
        ("o2", "第二条"),
    ]
    assert fake.token_requests == 1
    assert "大额存单".encode() in fake.sent[0]["raw"]  # UTF-8 text, not \u escapes


async def test_a_rejected_token_is_fetched_again_once(api, fake):
    await api.send_text("o1", "一")
    fake.reject_next_token = True  # WeChat invalidated it (40001): e.g. another server fetched a new one
    await api.send_text("o1", "二")
    assert [m["content"] for m in fake.sent] == ["一", "二"]
    assert fake.token_requests == 2


async def test_wrong_secret_is_an_error_that_does_not_leak_it(fake):
    client = WeChatAPI(APP_ID, "wrong-secret", fake.url)
    try:
        with pytest.raises(WeChatAPIError) as error:
            await client.send_text("o1", "你好")
    finally:
        await client.close()
    assert error.value.errcode == 40125 and "wrong-secret" not in str(error.value)
    assert fake.sent == []


async def test_http_errors_do_not_leak_the_secret(fake):
    client = WeChatAPI(APP_ID, APP_SECRET, fake.url + "/no-such-prefix")
    try:
        with pytest.raises(WeChatAPIError) as error:
            await client.send_text("o1", "你好")
    finally:
        await client.close()
    assert error.value.errcode == -404 and APP_SECRET not in str(error.value)


async def test_local_mode_sends_nothing(fake):
    client = WeChatAPI("", "", fake.url)
    await client.send_text("o1", "本地模式")
    assert client.local and client.outbox == [("o1", "本地模式")]
    assert fake.sent == [] and fake.token_requests == 0
