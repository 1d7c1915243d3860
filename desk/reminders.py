"""The reminder scheduler: finds the reminders whose time has come and has the bot say them.

It runs in the staff desk's process (a background thread of ``python -m desk serve``, every
``REMINDER_POLL_SECONDS``, 60 by default, 0 to turn it off) and as a command for cron or by hand
(``python -m desk reminders --once``). The desk is where it belongs: the desk already holds the
token to the Rasa server's desk API (:class:`desk.bridge.Bridge`), it runs once in ``make run``
and ``make run-cluster``, and it imports the knowledge base, which the Rasa server must not.
Several schedulers may run at once (two desks, cron beside a desk): each reminder is claimed by
one conditional update, so it is said once (:mod:`knowledge.reminders`).

One pass: claims left by a scheduler that died are released; due reminders are claimed; for each
conversation the Rasa server runs ``action_deliver_reminders`` (which marks them sent); those still
claimed afterwards (the Rasa server or the action server unreachable) wait again, or fail after
the last attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from desk.bridge import Bridge, BridgeError
from knowledge import reminders
from knowledge.db import session_scope

logger = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 60


@dataclass
class Pass:
    """What one pass did, for the log and the command line."""

    claimed: int = 0
    said: int = 0
    retried: int = 0
    failed: int = 0
    unreached: int = 0

    def __str__(self) -> str:
        return (
            f"reminders: {self.claimed} due, {self.said} said, {self.retried} to retry, "
            f"{self.failed} given up, {self.unreached} conversations not reached"
        )


def run_once(bridge: Bridge, now: dt.datetime | None = None, limit: int = 100) -> Pass:
    """Deliver every reminder whose time has come (as of ``now``, UTC; default: now)."""
    done = Pass()
    with session_scope() as s:
        reminders.requeue_stale(s, now)
        claimed = reminders.claim_due(s, now, limit)
    done.claimed = len(claimed)
    by_conversation: dict[str, list[int]] = defaultdict(list)
    for reminder_id, conversation in claimed:
        by_conversation[conversation].append(reminder_id)
    for conversation, ids in by_conversation.items():
        try:
            answer = bridge.remind(conversation)
            done.said += int(answer.get("said") or 0)
            done.unreached += 0 if answer.get("reached") else 1
        except BridgeError:
            pass  # the reminders are still claimed: released below
        with session_scope() as s:
            for reminder_id in ids:
                status = reminders.release(s, reminder_id, now)
                done.retried += int(status == "pending")
                done.failed += int(status == "failed")
    if done.claimed:
        logger.info("%s", done)
    return done


def poll_seconds() -> float:
    try:
        return float(os.environ.get("REMINDER_POLL_SECONDS", DEFAULT_POLL_SECONDS))
    except ValueError:
        return DEFAULT_POLL_SECONDS


def start_in_background(bridge: Bridge | None = None, every: float | None = None) -> threading.Thread | None:
    """The scheduler as a daemon thread of the desk's process; None when turned off (0 seconds)."""
    every = poll_seconds() if every is None else every
    if every <= 0:
        return None
    bridge = bridge or Bridge()

    def loop() -> None:
        while True:
            try:
                run_once(bridge)
            except Exception as exc:  # the database down: try again next time
                logger.error("the reminder scheduler failed: %s", type(exc).__name__)
            time.sleep(every)

    thread = threading.Thread(target=loop, name="reminders", daemon=True)
    thread.start()
    return thread
