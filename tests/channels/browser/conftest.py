"""Fixtures for the website-chat tests, shared by both environments.

``scripts/browser_tests.sh`` starts the action server and the Rasa server (``rasa run``
with ``credentials.yml``, ``--enable-api``) on free ports, exports ``WEBCHAT_URL``, then
runs ``test_socketio_*.py`` with the Rasa environment (python-socketio clients, the
channel in-process) and ``test_browser_*.py`` with the action-server environment
(Selenium driving the system's headless Chromium). This file imports only the standard
library and pytest at the top so that both can load it; Selenium is imported where used.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RASA_PY = ROOT / ".venv" / "rasa" / "bin" / "python"
SCREENSHOTS = ROOT / "var" / "screenshots"
_taken: list[Path] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


@pytest.fixture(scope="session")
def desk_url() -> str:
    """Base URL of the staff desk scripts/browser_tests.sh starts."""
    url = os.environ.get("DESK_URL")
    if not url:
        pytest.fail("DESK_URL is not set: run these tests with scripts/browser_tests.sh, which starts the desk")
    return url.rstrip("/")


@pytest.fixture(scope="session")
def webchat_url() -> str:
    """Base URL of the real Rasa server (with the website channel and the HTTP API)."""
    url = os.environ.get("WEBCHAT_URL")
    if not url:
        pytest.fail("WEBCHAT_URL is not set: run these tests with scripts/browser_tests.sh, which starts the servers")
    return url.rstrip("/")


def conversation_of(session: str) -> str:
    """The conversation id inside the signed session token the page keeps (``<id>.<signature>``)."""
    return session.split(".")[0]


def tracker(base_url: str, session: str, events: str = "ALL") -> dict:
    """The stored conversation, read through Rasa's HTTP API with its token (RASA_API_TOKEN)."""
    token = os.environ.get("RASA_API_TOKEN", "")
    return get_json(
        f"{base_url}/conversations/{conversation_of(session)}/tracker?include_events={events}&token={token}"
    )


def tracker_user_texts(base_url: str, session: str) -> list[str]:
    """What the server stored of the customer's messages in one conversation, in order."""
    return [e.get("text") for e in tracker(base_url, session)["events"] if e["event"] == "user"]


class StubServer:
    """The channel on a bare Sanic app with a scripted bot and agent (stub_server.py), as a process."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        if not RASA_PY.exists():
            pytest.fail("the Rasa environment is missing: run `make setup`")
        self.starts += 1
        log_path = self.log_dir / f"stub-{self.starts}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(log_path, "w") as log:  # the child keeps its own copy of the file
            self.proc = subprocess.Popen(
                [str(RASA_PY), "-m", "tests.channels.browser.stub_server", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_http(f"{self.url}/webhooks/web/health", timeout=60, proc=self.proc)
        except RuntimeError as e:
            pytest.fail(f"{e}\n{log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def stub_server(tmp_path_factory) -> Iterator[StubServer]:
    server = StubServer(tmp_path_factory.mktemp("stub"))
    server.start()
    yield server
    server.stop()


# --- headless Chromium -------------------------------------------------------
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE = {"width": 375, "height": 740, "deviceScaleFactor": 2, "mobile": True}


def _chromium_options():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the test container runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1024,900",
        "--lang=zh-CN",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


def _browser(log: Path):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.fail(f"{path} not found: scripts/browser_tests.sh installs chromium and chromium-driver")
    # the driver path is given, and offline mode, so selenium-manager never downloads anything
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    service = Service(executable_path=CHROMEDRIVER, log_output=str(log))
    browser = webdriver.Chrome(service=service, options=_chromium_options())
    browser.set_page_load_timeout(30)
    return browser


@pytest.fixture
def driver(tmp_path):
    """A fresh headless Chromium (empty profile, so empty localStorage) per test."""
    browser = _browser(tmp_path / "chromedriver.log")
    yield browser
    browser.quit()


@pytest.fixture
def staff_driver(tmp_path):
    """A second, separate Chromium: a member of staff beside the customer's browser."""
    browser = _browser(tmp_path / "chromedriver-staff.log")
    browser.set_window_size(1280, 860)
    yield browser
    browser.quit()


@pytest.fixture
def phone(driver):
    """The same browser with a 375 px wide phone screen."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    return driver


@pytest.fixture
def screenshot():
    """save(name) -> path of a PNG in var/screenshots/ (git-ignored), listed at the end of the run."""

    def save(browser, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        assert browser.save_screenshot(str(path)), f"could not write {path}"
        _taken.append(path)
        return path

    return save


#: Chromium leaves a folder in /tmp per browser (org.chromium.Chromium.*, its single-instance socket) when it
#: quits; the ones this run left are removed when it ends, not those of a browser still running elsewhere.
_CHROMIUM_LEFTOVERS = "org.chromium.Chromium.*"
_chromium_folders_before = set(Path(tempfile.gettempdir()).glob(_CHROMIUM_LEFTOVERS))


def _abandoned(folder: Path) -> bool:
    """Whether no Chromium answers on the folder's socket any more."""
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(folder / "SingletonSocket"))
        except OSError:
            return True
    return False


def pytest_sessionfinish(session, exitstatus) -> None:
    for folder in set(Path(tempfile.gettempdir()).glob(_CHROMIUM_LEFTOVERS)) - _chromium_folders_before:
        if _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter) -> None:
    for path in _taken:
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        terminalreporter.write_line(f"screenshot of the web chat: {rel}")
