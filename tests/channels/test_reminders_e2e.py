"""Reminders end to end on WeChat: a fake WeChat on loopback, the WeChat channel and the desk API in
a Rasa app serving the trained assistant (conversations in a SQL tracker store), a live action
server, and the desk's scheduler as its own processes (``python -m desk reminders --once``).

The customer books an appointment and opts in, and names a maturity date in one message; the
reminders' time is moved into the past in the database; two schedulers run at once (as two desks
would); the customer receives each reminder once through the customer-service API and the stored
conversation holds it; a reminder cancelled by the customer is never sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import uuid

import pytest
from rasa.shared.core.events import BotUttered

from bot.channels.gateway import gateway
from tests.bot.conftest import ACTIONS_PY, ROOT, action_server  # noqa: F401
from tests.channels.fake_wechat import until
from tests.channels.test_desk_wechat import bridge_token, fake, say, served, sql_agent, stores  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _in_days(days: int) -> str:
    d = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() + dt.timedelta(days=days)
    return f"{d.year}年{d.month}月{d.day}日"


def _reminders(db, openid: str) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(
            "select kind, status, subject from reminder where conversation_id = ? order by id", (openid,)
        ).fetchall()


def _age(tracker_db, openid: str, seconds: int) -> None:
    """The conversation as if the customer last wrote ``seconds`` ago (its session has expired)."""
    with sqlite3.connect(tracker_db) as c:
        c.execute(
            "update events set timestamp = timestamp - ?,"
            " data = json_set(data, '$.timestamp', json_extract(data, '$.timestamp') - ?) where sender_id = ?",
            (seconds, seconds, openid),
        )


def _make_due(db, openid: str) -> None:
    """The reminders' time comes: moved into the past, as the clock would."""
    with sqlite3.connect(db) as c:
        c.execute("update reminder set remind_at = '2000-01-01 00:00:00.000000' where conversation_id = ?", (openid,))


async def _scheduler(served_url, db, token) -> str:  # noqa: F811
    """One pass of ``python -m desk reminders --once`` in its own process (a fresh engine)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KNOWLEDGE_DB_URL": f"sqlite:///{db}",
        "DESK_RASA_URL": served_url,
        "DESK_BRIDGE_TOKEN": token,
    }
    proc = await asyncio.create_subprocess_exec(
        str(ACTIONS_PY),
        "-m",
        "desk",
        "reminders",
        "--once",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_reminders_reach_the_customer_on_wechat_once(
    served, fake, sql_agent, action_server, bridge_token, stores  # noqa: F811
):
    webhook = f"{served}/webhooks/wechat/webhook"
    db = action_server[1]
    openid = "o" + uuid.uuid4().hex[:27]

    booked = await say(fake, webhook, openid, "我想预约下周二上午10点去中关村支行开户")
    assert "预约成功" in booked and "提醒" in booked, booked
    set_one = await say(fake, webhook, openid, "提醒我")
    assert "09:00" in set_one, set_one
    set_two = await say(fake, webhook, openid, f"我的三年定期{_in_days(40)}到期，到时候提醒我")
    assert "三年定期" in set_two, set_two
    assert [(k, s) for k, s, _ in _reminders(db, openid)] == [("appointment", "pending"), ("maturity", "pending")]

    # days later, after a restart of the Rasa server: nothing of the conversation in memory, and
    # delivering opens a new session whose events do not say where the customer is
    _age(stores, openid, 2 * 86400)
    gateway._where.pop(openid, None)
    gateway._scripts.pop(openid, None)
    _make_due(db, openid)
    passes = await asyncio.gather(*(_scheduler(served, db, bridge_token) for _ in range(2)))
    assert sum("2 said" in p or "1 said" in p for p in passes) >= 1, passes

    def reminders_sent() -> str:
        """Every reminder the customer received (WeChat may carry several in one message)."""
        return "\n".join(m for m in fake.sent_to(openid) if "提醒】" in m)

    await until(lambda: "【预约提醒】" in reminders_sent() and "【到期提醒】" in reminders_sent())
    await asyncio.sleep(1)  # a second delivery would arrive by now
    sent = reminders_sent()
    assert sent.count("【预约提醒】") == 1 and sent.count("【到期提醒】") == 1, sent
    assert "中关村支行" in sent and "10:00" in sent and "您的三年定期" in sent
    assert [s for _, s, _ in _reminders(db, openid)] == ["sent", "sent"]

    stored = await sql_agent.tracker_store.retrieve_full_tracker(openid)
    said = [e.metadata.get("utter_action") for e in stored.events if isinstance(e, BotUttered) and e.metadata]
    assert said.count("utter_reminder_appointment") == 1 and said.count("utter_reminder_maturity") == 1

    # another reminder, then the customer opts out: nothing is sent when its time comes
    await say(fake, webhook, openid, f"我的大额存单{_in_days(60)}到期，提醒我")
    cancelled = await say(fake, webhook, openid, "取消提醒")
    assert "已为您取消1个提醒" in cancelled, cancelled
    _make_due(db, openid)
    assert "0 due" in await _scheduler(served, db, bridge_token)
    assert reminders_sent() == sent
    assert [s for _, s, _ in _reminders(db, openid)] == ["sent", "sent", "cancelled"]
