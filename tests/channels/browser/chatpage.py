"""What a customer sees and does on the chat page, for the Selenium tests."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

SESSION_KEY = "yunlan.webchat.session_id"

# Every row of the message list as the customer reads it: who speaks, the text, the
# choices offered (and whether they can still be clicked), the pictures.
_ROWS_JS = """
return Array.from(document.querySelectorAll('#messages > *')).map(function (row) {
  var who = row.classList.contains('row-user') ? 'user' : row.classList.contains('row-bot') ? 'bot' : 'notice';
  var text = who === 'notice' ? row.textContent : (row.querySelector('.bubble-text') || {textContent: ''}).textContent;
  return {
    who: who,
    text: text,
    chips: Array.from(row.querySelectorAll('button.chip')).map(function (b) { return b.textContent; }),
    enabled: Array.from(row.querySelectorAll('button.chip')).filter(function (b) { return !b.disabled; })
                  .map(function (b) { return b.textContent; }),
    images: Array.from(row.querySelectorAll('img')).map(function (i) { return i.getAttribute('src'); })
  };
});
"""


class ChatPage:
    """The chat page in one browser."""

    def __init__(self, driver, base_url: str, timeout: float = 20) -> None:
        self.driver = driver
        self.base_url = base_url
        self.timeout = timeout

    # --- navigation ----------------------------------------------------------
    def open(self, path: str = "/chat") -> ChatPage:
        self.driver.get(self.base_url + path)
        self.wait_ready()
        return self

    def reload(self) -> ChatPage:
        self.driver.refresh()
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        self.wait(lambda d: self.state == "ready", "the page never confirmed a session")

    def wait(self, condition, message: str, timeout: float | None = None):
        return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=0.1).until(
            lambda d: condition(d), message=message
        )

    # --- reading -------------------------------------------------------------
    @property
    def state(self) -> str | None:
        return self.driver.execute_script("return document.getElementById('chat').dataset.state || null")

    def rows(self) -> list[dict[str, Any]]:
        return self.driver.execute_script(_ROWS_JS)

    def texts(self, who: str) -> list[str]:
        return [r["text"] for r in self.rows() if r["who"] == who]

    def session_id(self) -> str | None:
        return self.driver.execute_script(f"return JSON.parse(localStorage.getItem('{SESSION_KEY}'))")

    def element(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def visible(self, css: str) -> bool:
        return self.element(css).is_displayed()

    def wait_for_bot(self, contains: str, after: int = 0) -> dict[str, Any]:
        """The first bot message from row ``after`` on whose text contains ``contains``."""

        def found(_):
            for row in self.rows()[after:]:
                if row["who"] == "bot" and contains in row["text"]:
                    return row
            return False

        return self.wait(found, f"no bot message containing {contains!r}; the page shows {self.rows()}")

    def wait_for_rows(self, count: int) -> list[dict[str, Any]]:
        return self.wait(lambda _: len(self.rows()) >= count and self.rows(), f"fewer than {count} rows: {self.rows()}")

    # --- acting --------------------------------------------------------------
    def type(self, text: str) -> None:
        field = self.element("#input")
        field.clear()
        field.send_keys(text)

    def say(self, text: str) -> int:
        """Type ``text`` and press Enter; returns the number of rows before it."""
        before = len(self.rows())
        self.type(text)
        self.element("#input").send_keys(Keys.ENTER)
        self.wait(lambda _: len(self.rows()) > before, f"{text!r} was not shown as sent")
        return before

    def click_choice(self, title: str) -> int:
        """Click the enabled choice ``title``; returns the number of rows before it."""
        before = len(self.rows())
        chips = [
            b
            for b in self.driver.find_elements(By.CSS_SELECTOR, "#messages button.chip")
            if b.text == title and b.is_enabled()
        ]
        assert chips, f"no clickable choice {title!r} on the page: {self.rows()}"
        chips[-1].click()
        self.wait(lambda _: len(self.rows()) > before, f"clicking {title!r} sent nothing")
        return before
