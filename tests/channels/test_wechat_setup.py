"""Setting the WeChat channel up: environment, credentials.yml, and a channel without credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.channels.channel import register
from rasa.core.run import _create_single_channel
from rasa.shared.utils.io import read_config_file
from sanic import Sanic

from bot.channels.gateway import gateway
from bot.channels.wechat import WeChatInput
from bot.settings import WeChatSettings
from tests.channels.fake_wechat import FakeWeChat, SanicOnLoopback, new_aes_key, text_xml

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "bot.channels.wechat.WeChatInput"


@pytest.fixture
def no_wechat_env(monkeypatch):
    for variable in WeChatSettings.ENV.values():
        monkeypatch.delenv(variable, raising=False)


def test_settings_come_from_the_environment(monkeypatch, no_wechat_env):
    key = new_aes_key()
    monkeypatch.setenv("WECHAT_TOKEN", "tok")
    monkeypatch.setenv("WECHAT_APP_ID", "wx1")
    monkeypatch.setenv("WECHAT_APP_SECRET", "sec")
    monkeypatch.setenv("WECHAT_ENCODING_AES_KEY", key)
    monkeypatch.setenv("WECHAT_REPLY_DEADLINE", "3.5")
    settings = WeChatSettings.load()
    assert (settings.token, settings.app_id, settings.app_secret) == ("tok", "wx1", "sec")
    assert settings.encoding_aes_key == key
    assert settings.reply_deadline == 3.5 and settings.api_base == "https://api.weixin.qq.com"
    assert settings.configured and settings.can_send


def test_credentials_override_the_environment(monkeypatch, no_wechat_env):
    monkeypatch.setenv("WECHAT_TOKEN", "from-env")
    monkeypatch.setenv("WECHAT_API_BASE", "http://env.example")
    settings = WeChatSettings.load({"api_base": "http://127.0.0.1:9", "reply_deadline": 2, "token": None})
    assert (settings.token, settings.api_base, settings.reply_deadline) == ("from-env", "http://127.0.0.1:9", 2.0)


def test_defaults_without_any_configuration(no_wechat_env):
    settings = WeChatSettings.load()
    assert settings.reply_deadline == 4.0 and settings.api_base == "https://api.weixin.qq.com"
    assert not settings.configured and not settings.can_send


@pytest.mark.parametrize(
    "overrides",
    [
        {"encoding_aes_key": "too-short", "app_id": "wx1"},
        {"encoding_aes_key": "!" * 43, "app_id": "wx1"},
        {"encoding_aes_key": new_aes_key()},  # safe mode needs the AppID
        {"reply_deadline": "soon"},
        {"reply_deadline": 0},
        {"api_base": "api.weixin.qq.com"},
        {"app_secret_typo": "x"},
    ],
)
def test_unusable_settings_fail_at_start_up(overrides, no_wechat_env):
    with pytest.raises(ValueError):
        WeChatSettings.load(overrides)


def test_credentials_yml_loads_the_channel_without_any_secret(no_wechat_env):
    credentials = read_config_file(str(ROOT / "credentials.yml"))
    assert CHANNEL in credentials
    channel = _create_single_channel(CHANNEL, credentials[CHANNEL])
    assert isinstance(channel, WeChatInput) and channel.name() == "wechat"
    assert not channel.settings.configured and channel.api.local


async def test_a_channel_without_token_answers_503(no_wechat_env, monkeypatch):
    monkeypatch.setitem(gateway._outbound, "wechat", None)  # restored afterwards: other tests' channel
    channel = WeChatInput.from_credentials(None)
    app = Sanic("wechat_unconfigured")
    register([channel], app, route="/webhooks/")
    server = await SanicOnLoopback(app).start()
    wechat = await FakeWeChat("any-token", "wx1", "sec", new_aes_key()).start()
    try:
        url = f"{server.url}/webhooks/wechat/webhook"
        status, _, body = await wechat.get(f"{server.url}/webhooks/wechat/", {})
        assert status == 200 and "not configured" in body
        status, _, _ = await wechat.get(url, wechat.signed(echostr="1"))
        assert status == 503
        status, _ = await wechat.post(url, text_xml("o1", "你好", 1))
        assert status == 503
    finally:
        await wechat.stop()
        await server.stop()
