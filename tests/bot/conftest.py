"""Fixtures for the Rasa-server side: the trained model and a live action server."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "assistant.tar.gz"
ACTIONS_PY = ROOT / ".venv" / "actions" / "bin" / "python"
#: The shared secret the test action server requires, as `make run`'s does.
ACTION_TOKEN = "test-action-token-" + "0" * 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def action_server(tmp_path_factory):
    """A real action server on a scratch knowledge base, for end-to-end turns."""
    if not ACTIONS_PY.exists():
        pytest.fail("the action-server environment is missing: run `make setup`")
    work = tmp_path_factory.mktemp("action-server")
    env = {
        **os.environ,
        "KNOWLEDGE_DB_URL": f"sqlite:///{work / 'kb.db'}",
        "PYTHONPATH": str(ROOT),
        "ACTION_SERVER_TOKEN": ACTION_TOKEN,
    }
    # the staff desk is open whenever the tests run (the seed's hours are Beijing office hours)
    subprocess.run(
        [str(ACTIONS_PY), "-m", "knowledge", "load", "--desk-hours", "00:00-24:00"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    with open(work / "actions.log", "w") as log:
        proc = subprocess.Popen(
            [str(ACTIONS_PY), "-m", "actions.server", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.3)
            else:
                pytest.fail(f"action server did not start: {(work / 'actions.log').read_text()}")
            yield f"http://127.0.0.1:{port}/webhook", work / "kb.db"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def agent(action_server):
    """The trained assistant, wired to the live action server."""
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` first")
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    return Agent.load(
        str(MODEL), action_endpoint=EndpointConfig(url=action_server[0], headers={"X-Action-Token": ACTION_TOKEN})
    )
