"""The page's states the real bot cannot show on demand: a human agent, a lost connection, pictures.

The page talks to the channel on a bare Sanic app (stub_server.py) whose scripted bot
hands the conversation to the agent "王敏" through ``gateway.hand_over``, the same call a
contact-centre integration makes; the test stops and restarts that server to cut the
connection.
"""

from __future__ import annotations

import pytest

from tests.channels.browser.chatpage import ChatPage

AGENT_BANNER = "已接通人工客服 王敏"


@pytest.fixture
def chat(driver, stub_server) -> ChatPage:
    page = ChatPage(driver, stub_server.url).open()
    page.wait_for_bot("测试桩")
    return page


def test_the_page_shows_who_holds_the_conversation(chat):
    assert not chat.visible("#agent-banner")
    before = chat.click_choice("转人工客服")
    chat.wait_for_bot("正在为您转接人工客服", after=before)
    chat.wait(lambda _: chat.visible("#agent-banner"), "no agent banner after the hand-over")
    assert chat.element("#agent-banner").text == AGENT_BANNER
    assert chat.element("#subtitle").text == "人工客服 王敏 为您服务"

    # the agent answers through gateway.send; no "bot is typing" while a person holds the chat
    before = chat.say("我的信用卡被盗刷了")
    assert not chat.visible("#typing")
    chat.wait_for_bot("人工客服已收到：我的信用卡被盗刷了", after=before)

    # a reload asks the server again, which still says 王敏 holds it; no second notice
    chat.reload()
    chat.wait(lambda _: chat.visible("#agent-banner"), "the agent banner is gone after a reload")
    assert [r["text"] for r in chat.rows() if r["who"] == "notice" and "王敏" in r["text"]] == [
        "已接通人工客服 王敏，接下来由人工为您服务。"
    ]

    before = chat.say("问题解决了，结束吧")
    chat.wait_for_bot("本次人工服务结束", after=before)
    chat.wait(lambda _: not chat.visible("#agent-banner"), "the agent banner stayed after the hand-back")
    assert "已转回智能客服小澜" in chat.rows()[-1]["text"] and chat.rows()[-1]["who"] == "notice"
    assert chat.element("#subtitle").text == "智能助手小澜为您服务"

    before = chat.say("你好")
    chat.wait_for_bot("收到：你好", after=before)  # the bot answers again


def test_a_lost_connection_is_shown_and_the_session_resumes(chat, stub_server):
    session = chat.session_id()
    assert not chat.visible("#connection-banner")
    stub_server.stop()
    chat.wait(lambda _: chat.visible("#connection-banner"), "no reconnecting banner after the server went away")
    assert chat.element("#connection-banner").text == "连接中断，正在重连…"
    chat.type("还在吗")
    assert not chat.element("#send").is_enabled()

    stub_server.start()
    chat.wait(lambda _: chat.state == "ready", "the page did not reconnect", timeout=30)
    assert not chat.visible("#connection-banner")
    assert chat.session_id() == session
    before = chat.say("还在吗")
    chat.wait_for_bot("收到：还在吗", after=before)


def test_the_typing_indicator_shows_while_the_bot_answers(chat):
    before = chat.say("慢一点")
    assert chat.visible("#typing")
    chat.wait_for_bot("让您久等了", after=before)
    assert not chat.visible("#typing")


def test_html_from_the_bot_is_shown_as_text(chat):
    attack = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    before = chat.say(attack)
    echo = chat.wait_for_bot("收到：", after=before)
    assert echo["text"] == "收到：" + attack
    assert chat.driver.execute_script("return typeof window.__xss") == "undefined"
    assert chat.driver.execute_script("return document.querySelectorAll('#messages script').length") == 0


def test_only_https_or_same_site_pictures_are_shown(chat):
    before = chat.click_choice("看一张图")
    chat.wait_for_bot("图片已发送", after=before)
    images = [src for row in chat.rows()[before:] for src in row["images"]]
    # of /webhooks/web/favicon.svg, javascript:... and http://example.com/...: only the first
    assert images == [chat.base_url + "/webhooks/web/favicon.svg"]
    assert chat.driver.execute_script("return typeof window.__xss") == "undefined"
