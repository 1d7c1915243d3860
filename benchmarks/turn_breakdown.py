"""Where a turn's time goes, stage by stage, inside one Rasa process.

    .venv/rasa/bin/python benchmarks/turn_breakdown.py [--rounds 4]

Loads the trained model (models/assistant.tar.gz) in this process with the project's tracker
store (a scratch SQLite file) and the speed-ups the channels install (bot/speed.py), starts
the action server on a free port with a scratch knowledge base, plays the conversations of
``benchmarks/load.py`` one after another (and the after-sales one typed in Traditional script)
through the channel gateway, as every channel does, and prints milliseconds per turn for each
stage: the whole message through the gateway, fetching the tracker, the NLU, the policy
predictions, the calls to the action server (and per action), saving the tracker. One customer, no concurrency: this is the cost of a turn,
not the capacity (``make bench`` measures that). The first round warms up and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
MODEL = ROOT / "models" / "assistant.tar.gz"
PY_ACTIONS = ROOT / ".venv" / "actions" / "bin" / "python"

TOTAL: dict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter[str] = collections.Counter()


def _timed(owner: Any, name: str, label: str) -> None:
    """Wrap ``owner.name`` so that its time is added to ``label``."""
    original = getattr(owner, name)

    def account(started: float) -> None:
        TOTAL[label] += time.perf_counter() - started
        CALLS[label] += 1

    if asyncio.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                account(started)

    else:

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                account(started)

    setattr(owner, name, wrapper)


def _instrument() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot.channels import gateway
    from bot.channels.gateway import Gateway
    from bot.stores import TrackerStore

    _timed(Gateway, "receive", "message through the gateway")
    # the replies in the customer's script: which script a message tells, the script carried
    # on from the conversation, the conversion of each reply
    _timed(gateway, "told_by", "  script: detect")
    _timed(gateway, "recorded_script", "  script: carry on")
    _timed(gateway, "in_script", "  script: convert replies")
    _timed(MessageProcessor, "handle_message", "turn")
    _timed(MessageProcessor, "fetch_tracker_and_update_session", "tracker fetch")
    _timed(TrackerStore, "_retrieve", "  read rows")
    _timed(DialogueStateTracker, "from_dict", "  rebuild tracker")
    _timed(MessageProcessor, "parse_message", "NLU parse")
    _timed(MessageProcessor, "_predict_next_with_tracker", "policy prediction")
    _timed(EndpointConfig, "request", "action server call")
    _timed(MessageProcessor, "save_tracker", "tracker save")

    run = RemoteAction.run

    async def per_action(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await run(self, *args, **kwargs)
        finally:
            TOTAL["    " + self.name()] += time.perf_counter() - started
            CALLS["    " + self.name()] += 1

    RemoteAction.run = per_action  # type: ignore[method-assign]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds of all conversations counted")
    args = parser.parse_args(argv)
    if not MODEL.exists():
        print("ERROR: no trained model: run `make train` first", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="turn-breakdown-"))
    token = secrets.token_hex(16)
    os.environ.update(TRACKER_STORE_URL=f"sqlite:///{scratch / 'tracker.db'}", ACTION_SERVER_TOKEN=token)
    env = dict(os.environ, KNOWLEDGE_DB_URL=f"sqlite:///{scratch / 'knowledge.db'}", PYTHONPATH=str(ROOT))
    subprocess.run([str(PY_ACTIONS), "-m", "knowledge", "load"], env=env, check=True, capture_output=True, cwd=ROOT)
    port = _free_port()
    log = open(scratch / "actions.log", "w")  # noqa: SIM115 - open while the action server runs
    actions = subprocess.Popen(
        [str(PY_ACTIONS), "-m", "actions.server", "-p", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        from load import SCRIPTS, Step
        from rasa.core.agent import Agent
        from rasa.core.channels.channel import CollectingOutputChannel
        from rasa.utils.endpoints import EndpointConfig

        import bot.channels  # noqa: F401 - installs bot/speed.py as `rasa run` does
        from banktext import to_traditional
        from bot.channels.gateway import Gateway, Incoming
        from bot.speed import close_sessions
        from bot.stores import TrackerStore
        from bot.train import quiet_rasa_logs

        quiet_rasa_logs()  # Rasa's debug log would dwarf the table
        _instrument()
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Action-Token": token})
        agent = Agent.load(str(MODEL), action_endpoint=endpoint, tracker_store=TrackerStore(domain=None))
        agent.tracker_store.domain = agent.domain
        gateway = Gateway()
        gateway.bind(type("App", (), {"ctx": type("Ctx", (), {"agent": agent})})())
        scripts = {
            **SCRIPTS,
            "service-traditional": tuple(Step(s.kind, to_traditional(s.text)) for s in SCRIPTS["service"]),
        }

        async def play(rounds: int) -> None:
            for n in range(rounds):
                for name, steps in scripts.items():
                    sender = f"{name}-{n}-{secrets.token_hex(4)}"
                    for step in steps:  # a pressed button's title is typed: the same reading (typed labels)
                        await gateway.receive(
                            Incoming("rest", sender, step.text), agent.handle_message, CollectingOutputChannel()
                        )
            await close_sessions()  # the kept connections belong to this event loop

        asyncio.run(play(1))  # warm-up
        TOTAL.clear()
        CALLS.clear()
        started = time.perf_counter()
        asyncio.run(play(args.rounds))
        wall = time.perf_counter() - started
    finally:
        actions.terminate()
        actions.wait(timeout=30)
        log.close()
    turns = CALLS["message through the gateway"]
    print(f"{turns} turns, {wall / turns * 1000:.1f} ms per turn (wall clock, one customer)")
    print(f"{'stage':<36s} {'ms/turn':>8s} {'calls/turn':>11s} {'ms/call':>8s}")
    order = [
        "message through the gateway",
        "  script: detect",
        "  script: carry on",
        "  script: convert replies",
        "turn",
        "tracker fetch",
        "  read rows",
        "  rebuild tracker",
        "NLU parse",
        "policy prediction",
    ]
    order += ["action server call", "tracker save"]
    order += sorted((k for k in TOTAL if k not in order), key=lambda k: -TOTAL[k])
    for label in order:
        if CALLS[label]:
            print(
                f"{label:<36s} {TOTAL[label] / turns * 1000:8.2f} {CALLS[label] / turns:11.2f} "
                f"{TOTAL[label] / CALLS[label] * 1000:8.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
