"""A customer and a member of staff side by side, each in their own headless Chromium.

The real servers of scripts/browser_tests.sh: the Rasa server with the trained assistant, the
action server, and the staff desk (``python -m desk serve``) on the same scratch databases.
The customer asks for a person on the chat page and sees the queue; the agent logs in to the
console, takes the conversation, reads the summary and transcript, replies; the customer sees
the reply while the bot stays silent; the agent resolves; the bot answers again and asks for a
rating. The supervisor then sees the agent's figures. Screenshots of both pages land in
var/screenshots/.
"""

from __future__ import annotations

import os
import time

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.channels.browser.chatpage import ChatPage
from tests.channels.browser.conftest import tracker

TIMEOUT = 30


def wait(browser, condition, message: str, timeout: float = TIMEOUT):
    # an element found just before the page is replaced (a login's redirect) is stale: look again
    return WebDriverWait(
        browser,
        timeout,
        poll_frequency=0.2,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(lambda d: _unless_navigating(condition, d), message=message)


def _unless_navigating(condition, browser):
    """The condition, or False while the page is being replaced.

    Chromium answers a command that lands between two pages with "unhandled inspector error"
    (the old page's context is gone, the new one not there yet): that is a moment to look
    again, not a failure. Any other WebDriver error still fails the test.
    """
    try:
        return condition(browser)
    except WebDriverException as error:
        if "inspector error" in (error.msg or "") or "Cannot find context" in (error.msg or ""):
            return False
        raise


def css(browser, selector: str):
    return browser.find_elements(By.CSS_SELECTOR, selector)


def text_of(browser, selector: str) -> str:
    found = css(browser, selector)
    return found[0].text if found else ""


def log_in(browser, desk_url: str, name: str) -> None:
    browser.get(desk_url + "/")
    wait(browser, lambda d: css(d, "#login-form"), "the console did not ask an unknown visitor to log in")
    browser.find_element(By.ID, "username").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(os.environ["DESK_TEST_PASSWORD"])
    browser.find_element(By.ID, "login-button").click()
    # the attribute as written in the page, read without running a script in a page being replaced
    wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_dom_attribute("data-user") == name, "login failed")


def transcript(browser) -> list[tuple[str, str]]:
    return [
        (row.get_attribute("class"), row.find_element(By.CSS_SELECTOR, ".msg-text").text)
        for row in css(browser, "#transcript .msg")
    ]


def test_a_person_takes_over_a_web_conversation_and_hands_it_back(
    driver, staff_driver, webchat_url, desk_url, screenshot
):
    customer = ChatPage(driver, webchat_url).open()
    customer.wait_for_bot("您好")

    # --- the customer asks for a person and hears the queue ----------------------------
    before = customer.say("我年纪大了看不清楚，帮我转人工客服")
    queued = customer.wait_for_bot("排队编号", after=before)
    assert "前面还有 0 位" in queued["text"] and "取消排队" in queued["chips"]
    code = queued["text"].split("排队编号 ")[1][:14]

    # --- the agent logs in, goes online and takes the conversation ---------------------
    staff = staff_driver
    log_in(staff, desk_url, "wangmin")
    toggle = wait(
        staff,
        lambda d: d.find_element(By.ID, "online-toggle").is_enabled() and d.find_element(By.ID, "online-toggle"),
        "no online switch",
    )
    toggle.click()
    wait(staff, lambda d: text_of(d, "#online-state") == "在线", "the agent did not go online")
    item = wait(
        staff,
        lambda d: next((i for i in css(d, "#waiting-list .queue-item") if "看不清楚" in i.text), None),
        "the customer never appeared in the agent's queue",
    )
    assert "优先" in item.text  # an elderly customer goes first
    item.find_element(By.CSS_SELECTOR, ".take-button").click()
    wait(staff, lambda d: code in text_of(d, "#conv-title"), "the taken conversation did not open")
    wait(staff, lambda d: any("转人工客服" in t for _, t in transcript(d)), "no transcript")
    summary = text_of(staff, "#summary")
    assert "客户要求转人工" in summary or "转人工" in summary
    lines = transcript(staff)
    assert any("msg-customer" in c and "看不清楚" in t for c, t in lines)
    assert any("msg-bot" in c and "排队编号" in t for c, t in lines)

    customer.wait(lambda _: customer.visible("#agent-banner"), "the customer was not told a person took over")
    assert "王敏" in customer.element("#agent-banner").text

    # --- the agent replies; the customer sees it ---------------------------------------
    before = len(customer.rows())
    box = staff.find_element(By.ID, "reply-text")
    box.send_keys("您好，我是客服王敏，已经看到您的问题，请问想了解哪方面？")
    staff.find_element(By.ID, "send-reply").click()
    customer.wait_for_bot("我是客服王敏", after=before)

    # --- the customer writes; the agent sees it, the bot stays silent ------------------
    before = customer.say("我想问问我的信用卡年费是怎么收的")
    wait(staff, lambda d: any("信用卡年费是怎么收" in t for _, t in transcript(d)), "the agent never saw the message")
    time.sleep(3)  # long enough for the bot to have answered, were it not paused
    assert [r for r in customer.rows()[before:] if r["who"] == "bot"] == [], "the bot spoke while a person held it"
    # markup a customer types is shown to the agent as text, never run
    customer.say('<b>加粗</b><img src=x onerror="window.__xss=1">')
    wait(staff, lambda d: any("<b>加粗</b>" in t for _, t in transcript(d)), "the markup did not reach the agent")
    assert not css(staff, "#transcript b, #transcript img")
    assert staff.execute_script("return window.__xss === undefined")
    box.send_keys("普通信用卡首年免年费，刷卡满6次免次年年费。")
    staff.find_element(By.ID, "send-reply").click()
    customer.wait_for_bot("刷卡满6次", after=before)

    screenshot(driver, "desk-customer-with-agent")
    screenshot(staff, "desk-agent-console")

    # --- the agent resolves: the bot is back and asks for a rating ---------------------
    before = len(customer.rows())
    staff.find_element(By.ID, "resolve-button").click()
    rating = customer.wait_for_bot("打个分", after=before)
    assert rating["chips"][0] == "5 非常满意" and len(rating["chips"]) == 5
    customer.wait(lambda _: not customer.visible("#agent-banner"), "the agent banner stayed after the hand-back")
    wait(staff, lambda d: not d.find_element(By.ID, "reply-text").is_enabled(), "the reply box stayed open")

    before = customer.click_choice("5 非常满意")
    customer.wait_for_bot("感谢您的评价", after=before)
    before = customer.say("王敏回答得很及时，解释也清楚")
    customer.wait_for_bot("谢谢您的意见", after=before)
    before = customer.say("信用卡年费多少")
    answer = customer.wait_for_bot("年费", after=before)
    assert "打个分" not in answer["text"]  # never asked twice

    # --- what was stored: paused and resumed, the person's replies marked as theirs -----
    events = tracker(webchat_url, customer.session_id())["events"]
    kinds = [e["event"] for e in events]
    assert "pause" in kinds and "resume" in kinds and kinds.index("pause") < kinds.index("resume")
    by_agent = [e["text"] for e in events if e["event"] == "bot" and (e.get("metadata") or {}).get("agent") == "王敏"]
    assert len(by_agent) == 2 and "刷卡满6次" in by_agent[1]
    paused_turn = events[kinds.index("pause") : kinds.index("resume")]
    assert [e["text"] for e in paused_turn if e["event"] == "user"][0] == "我想问问我的信用卡年费是怎么收的"
    assert not [e for e in paused_turn if e["event"] == "bot" and not (e.get("metadata") or {}).get("agent")]

    # --- the supervisor sees the agent's work --------------------------------------------
    staff.delete_all_cookies()
    log_in(staff, desk_url, "lizhuguan")
    row = wait(
        staff,
        lambda d: next((r for r in css(d, "#agents-table tbody tr") if "王敏" in r.text), None),
        "the supervisor does not see the agent",
    )
    wait(staff, lambda d: "5" in row.text, "no satisfaction figure for the agent")
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[3] == "1", cells  # conversations handled
    assert cells[5].startswith("5"), cells  # average satisfaction
    assert css(staff, "#queues-table tbody tr")
    comment = wait(
        staff,
        lambda d: next((r for r in css(d, "#comments-table tbody tr") if "回答得很及时" in r.text), None),
        "the supervisor does not see the customer's comment",
    )
    assert [c.text for c in comment.find_elements(By.TAG_NAME, "td")][1:3] == ["5 分", "wangmin"]
    screenshot(staff, "desk-supervisor-overview")


def test_the_console_refuses_strangers(staff_driver, desk_url):
    staff_driver.get(desk_url + "/api/queue")
    assert "请先登录" in staff_driver.page_source
    staff_driver.get(desk_url + "/")
    staff_driver.find_element(By.ID, "username").send_keys("wangmin")
    staff_driver.find_element(By.ID, "password").send_keys("wrong password")
    staff_driver.find_element(By.ID, "login-button").click()
    wait(staff_driver, lambda d: "不正确" in text_of(d, "#login-error"), "no error for a wrong password")


def test_the_appointments_page_reloads_itself_unless_someone_is_filling_in_a_form(staff_driver, desk_url):
    """A page left open at the counter shows new bookings (the desk reloads it every
    DESK_PAGE_REFRESH_SECONDS, 2 here), without the last action's notice; a form being filled in is kept."""
    from selenium.webdriver.support.ui import Select

    log_in(staff_driver, desk_url, "wangmin")
    staff_driver.get(desk_url + "/appointments?days=7&result=move&updated=YY000000TEST01")
    assert "YY000000TEST01" in text_of(staff_driver, "#appointment-notice")
    staff_driver.execute_script("window.loadedBefore = true")
    wait(
        staff_driver,
        lambda d: d.execute_script("return window.loadedBefore") is None and "result=" not in d.current_url,
        "the page did not reload itself",
        timeout=15,
    )
    assert "days=7" in staff_driver.current_url and not staff_driver.find_elements(By.ID, "appointment-notice")

    Select(staff_driver.find_element(By.ID, "days")).select_by_value("14")  # a member of staff at work
    staff_driver.execute_script("window.loadedBefore = true")
    time.sleep(5)
    assert staff_driver.execute_script("return window.loadedBefore") is True, "the page reloaded under a form"
    assert Select(staff_driver.find_element(By.ID, "days")).first_selected_option.get_attribute("value") == "14"
