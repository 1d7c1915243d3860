"""The chat page in headless Chromium against the real assistant (Rasa server + action server)."""

from __future__ import annotations

import time

import pytest
import yaml

from tests.channels.browser.chatpage import ChatPage
from tests.channels.browser.conftest import ROOT, tracker_user_texts

QUESTION = "大额存单的利率是多少"
MENU = ["产品与利率", "帮我推荐产品", "查找网点", "预约办理", "卡丢了/挂失", "转人工客服"]


def certificate_of_deposit() -> tuple[str, str]:
    """Name and one-year rate of the bank's standard certificate of deposit, from the seed the server loaded."""
    seed = yaml.safe_load((ROOT / "knowledge/seed/products/certificate_of_deposit.yml").read_text(encoding="utf-8"))
    product = next(p for p in seed["products"] if p["code"] == "CD-STD")
    rate = next(r["rate"] for r in product["rates"]["rows"] if r["term_months"] == 12)
    return product["name"], f"{rate:g}%"


@pytest.fixture
def chat(driver, webchat_url) -> ChatPage:
    return ChatPage(driver, webchat_url).open()


def test_the_capability_menu_greets_the_customer(chat):
    greeting = chat.wait_for_bot("欢迎来到云澜银行")
    assert greeting["chips"] == MENU
    assert greeting["enabled"] == MENU
    assert chat.element("h1").text == "云澜银行 智能客服"
    # the greeting is asked for silently: no "/greet" bubble from the customer
    assert chat.texts("user") == []
    assert chat.driver.title == "云澜银行 智能客服"


def test_a_product_question_gets_the_rate_from_the_catalogue(chat):
    chat.wait_for_bot("欢迎来到云澜银行")
    name, one_year = certificate_of_deposit()
    before = chat.say(QUESTION)
    assert chat.rows()[before] == {"who": "user", "text": QUESTION, "chips": [], "enabled": [], "images": []}
    answer = chat.wait_for_bot(name, after=before)
    assert one_year in answer["text"] and "1年" in answer["text"], answer
    assert chat.element("#input").get_attribute("value") == ""


def test_a_button_sends_its_payload_and_shows_its_title(chat):
    chat.wait_for_bot("欢迎来到云澜银行")
    before = chat.click_choice("产品与利率")
    assert chat.rows()[before]["who"] == "user" and chat.rows()[before]["text"] == "产品与利率"
    categories = chat.wait_for_bot("请问您想了解哪类产品", after=before)
    assert "大额存单" in categories["chips"]
    # the menu answered a question the conversation has moved past
    assert chat.rows()[0]["enabled"] == []

    before = chat.click_choice("大额存单")
    answer = chat.wait_for_bot("本行目前有以下大额存单产品", after=before)
    assert certificate_of_deposit()[0] in answer["chips"]
    assert "/ask_product_info" not in " ".join(chat.texts("user"))


def test_a_reload_keeps_the_conversation(chat, webchat_url):
    chat.wait_for_bot("欢迎来到云澜银行")
    before = chat.say(QUESTION)
    chat.wait_for_bot(certificate_of_deposit()[0], after=before)
    shown, session = chat.rows(), chat.session_id()
    assert session and chat.element("#chat").get_attribute("data-session") == session

    chat.reload()
    time.sleep(1.5)  # time for a second greeting to arrive, were one (wrongly) asked for
    assert chat.rows() == shown
    assert chat.session_id() == session

    before = chat.say("谢谢")
    chat.wait_for_rows(before + 2)
    # the server continued the same conversation after the reload
    assert tracker_user_texts(webchat_url, session) == ["/greet", QUESTION, "谢谢"]


@pytest.mark.parametrize(
    "attack", ['<img src=x onerror="window.__xss=1">', "<script>window.__xss=2</script>"], ids=["img", "script"]
)
def test_html_in_a_message_is_shown_as_text(chat, attack):
    chat.wait_for_bot("欢迎来到云澜银行")
    before = chat.say(attack)
    chat.wait_for_rows(before + 2)  # the bot's answer is on the page too
    assert chat.rows()[before]["text"] == attack
    assert chat.driver.execute_script("return typeof window.__xss") == "undefined"
    assert (
        chat.driver.execute_script(
            "return document.querySelectorAll('#messages img, #messages script, #messages a').length"
        )
        == 0
    )


def test_send_is_off_for_empty_input_and_long_input_is_cut_politely(chat):
    send = chat.element("#send")
    assert not send.is_enabled()
    chat.type("   ")
    assert not send.is_enabled()
    chat.type("你好")
    assert send.is_enabled()
    chat.type("存" * 520)
    assert len(chat.element("#input").get_attribute("value")) == 500
    assert "500 字上限" in chat.element("#input-note").text


def test_phone_screen_layout_and_screenshot(phone, webchat_url, screenshot):
    chat = ChatPage(phone, webchat_url).open()
    chat.wait_for_bot("欢迎来到云澜银行")
    before = chat.say(QUESTION)
    chat.wait_for_bot(certificate_of_deposit()[0], after=before)
    before = chat.say("信用卡年费多少")
    chat.wait_for_bot("年费", after=before)

    layout = phone.execute_script("""
        var w = window.innerWidth, out = [];
        document.querySelectorAll('header, #messages, .bubble, .chip, #input, #send').forEach(function (e) {
          var r = e.getBoundingClientRect();
          if (r.left < 0 || r.right > w + 0.5) out.push(e.className || e.id);
        });
        var send = document.getElementById('send').getBoundingClientRect();
        return {width: w, scrollWidth: document.documentElement.scrollWidth, overflowing: out,
                sendVisible: send.bottom <= window.innerHeight && send.top >= 0,
                viewport: document.querySelector('meta[name=viewport]').content};
        """)
    assert layout["width"] == 375
    assert layout["scrollWidth"] <= 375, layout
    assert layout["overflowing"] == [], layout
    assert layout["sendVisible"], layout
    assert "width=device-width" in layout["viewport"]
    path = screenshot(phone, "webchat")
    assert path.stat().st_size > 10_000
