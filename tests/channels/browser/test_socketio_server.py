"""The real assistant over socket.io, without a browser: what the server keeps of a web conversation."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from banktext import redact
from tests.channels.browser.conftest import tracker, tracker_user_texts
from tests.channels.browser.socketio_customer import Customer

QUESTION = "大额存单的利率是多少"
LOST_CARD = "我的卡号6222020200112233445丢了"


async def test_a_session_persists_across_reconnects(webchat_url):
    first = Customer(webchat_url)
    session = await first.open()
    await first.say("/greet")
    menu = (await first.replies_until("欢迎来到云澜银行"))[-1]
    assert "产品与利率" in [b["title"] for b in menu["quick_replies"]]
    await first.close()

    # the page comes back (reload, new tab, network change) with the stored id
    again, other_tab = Customer(webchat_url), Customer(webchat_url)
    assert await again.open(session) == session
    assert await other_tab.open(session) == session
    await again.say(QUESTION)
    assert (await again.replies_until("云澜个人大额存单"))[-1]["text"].startswith("【云澜个人大额存单】")
    # the reply went to the session's room: every page open on it sees it
    assert (await other_tab.replies_until("云澜个人大额存单"))[-1]["text"].startswith("【云澜个人大额存单】")
    await again.close()
    await other_tab.close()

    # one conversation on the server, not two
    assert tracker_user_texts(webchat_url, session) == ["/greet", QUESTION]
    assert tracker(webchat_url, session, "AFTER_RESTART")["latest_input_channel"] == "web"


async def test_card_numbers_are_masked_before_the_bot_and_the_tracker(webchat_url):
    customer = Customer(webchat_url)
    session = await customer.open()
    await customer.say(LOST_CARD)
    await customer.replies_until("挂失")
    await customer.close()

    assert tracker_user_texts(webchat_url, session) == [redact(LOST_CARD)] == ["我的卡号6222***********3445丢了"]
    assert "6222020200112233445" not in json.dumps(tracker(webchat_url, session), ensure_ascii=False)


def test_rasa_s_http_api_refuses_requests_without_its_token(webchat_url):
    request = urllib.request.Request(f"{webchat_url}/conversations/anyone/tracker")
    try:
        urllib.request.urlopen(request)
        raise AssertionError("the tracker was served without a token")
    except urllib.error.HTTPError as error:
        assert error.code in (401, 403)


def test_the_rasa_server_serves_the_page_on_its_own_port(webchat_url):
    with urllib.request.urlopen(f"{webchat_url}/chat") as r:  # follows the redirect
        assert r.url == f"{webchat_url}/webhooks/web/"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "云澜银行 智能客服" in r.read().decode("utf-8")
    with urllib.request.urlopen(f"{webchat_url}/webhooks/web/vendor/socket.io.min.js") as r:
        assert b"Socket.IO v4" in r.read(200)
