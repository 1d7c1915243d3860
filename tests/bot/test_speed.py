"""Kept action-server connections (bot/speed.py): one connection serves many calls, and a call
after the action server has restarted still goes through."""

from __future__ import annotations

import asyncio

import rasa.core.run as rasa_run
from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from sanic import Sanic

from bot import speed
from bot.speed import install

install()


async def _serve(port: int, peers: list) -> web.AppRunner:
    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        body = await request.json()
        if body.get("fail"):
            return web.json_response({"error": "no"}, status=500)
        return web.json_response({"echo": body, "token": request.headers.get("X-Action-Token")})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_calls_share_one_connection_and_survive_a_restart() -> None:
    async def scenario() -> None:
        port, peers = _free_port(), []
        runner = await _serve(port, peers)
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Action-Token": "t"})
        for n in range(5):
            answer = await endpoint.request(json={"n": n})
            assert answer == {"echo": {"n": n}, "token": "t"}
        assert len(set(peers)) == 1, "five calls, one kept connection"

        try:  # an error from the action server is still Rasa's ClientResponseError
            await endpoint.request(json={"fail": True})
            raise AssertionError("expected an error")
        except ClientResponseError as error:
            assert error.status == 500

        await runner.cleanup()  # the action server goes away and comes back
        runner = await _serve(port, peers)
        assert await endpoint.request(json={"n": 9}) == {"echo": {"n": 9}, "token": "t"}
        await runner.cleanup()

        kept = [s for key, s in speed._sessions.items() if key[0] == id(asyncio.get_running_loop())]
        assert kept and not any(s.closed for s in kept)
        await rasa_run.close_resources(Sanic("stopping"), asyncio.get_running_loop())  # the server stops
        assert all(s.closed for s in kept), "the kept sessions close with the server"

    asyncio.run(scenario())


def test_action_answers_are_still_checked_against_the_schema() -> None:
    """The same answers pass and the same errors are raised as with Rasa's own check."""
    import jsonschema
    import pytest
    from rasa.core.actions.action import RemoteAction

    from bot.speed import _rasa_validate_action_result

    action = RemoteAction("action_answer_faq", EndpointConfig("http://127.0.0.1:1/webhook"))
    slot = {"event": "slot", "name": "last_faq", "value": "faq/card_lost", "timestamp": None}
    good = [
        {"events": [slot], "responses": [{"text": "好的"}]},
        {"events": [], "responses": []},
        {},
        {"events": [slot, {"event": "active_loop", "name": None}, {"event": "followup", "name": "utter_greet"}]},
        {"events": [{"event": "user", "text": "你好", "parse_data": {"intent": {"name": "greet", "confidence": 1.0}}}]},
        {
            "events": [{"event": "bot", "text": "您好", "metadata": {"a": 1}}],
            "responses": [{"text": "x", "buttons": []}],
        },
    ]
    bad = [
        {"events": "slot"},
        {"responses": ["text"]},
        {"events": [{"event": "no_such_event"}]},
        {"events": [{"name": "last_faq"}]},  # no event name
        {"events": [{"event": "slot", "value": 1}]},  # a slot without its name
        {"events": [slot, {"event": "user", "text": 5}]},
        {"events": [slot, "slot"]},
        {"events": [{"event": "slot", "name": "x", "timestamp": "noon"}]},
        ["events"],
    ]
    for result in good:
        assert action._validate_action_result(result)
        assert _rasa_validate_action_result(action, result)
    for result in bad:
        with pytest.raises(jsonschema.ValidationError) as rasa_error:
            _rasa_validate_action_result(action, result)
        with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response") as ours:
            action._validate_action_result(result)
        assert ours.value.message == rasa_error.value.message, result


def test_events_read_back_as_rasa_reads_them() -> None:
    import pytest
    from rasa.shared.core.events import Event

    from bot.speed import _rasa_resolve_by_type

    names = {cls.type_name for cls in __import__("rasa").shared.utils.common.all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert Event.resolve_by_type(name) is _rasa_resolve_by_type(name), name
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", Event) is Event
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")

    from rasa.shared.core.events import ActionExecuted

    class ShopVisit(ActionExecuted):  # an event class defined after the first look-up
        type_name = "shop_visit_for_test"

    assert Event.resolve_by_type("shop_visit_for_test") is ShopVisit


def test_responses_are_filled_as_rasa_fills_them() -> None:
    from rasa.core.nlg import interpolator

    fill = interpolator.interpolate
    values = {"name": "金卡", "fee": "200", "rate": None}
    cases = [
        ("{name}年费{fee}元", "金卡年费200元"),
        ("年费{{fee}}元", "年费{fee}元"),  # doubled braces: a literal brace, as Rasa writes it
        ('/inform{"segment": "student"}', '/inform{"segment": "student"}'),  # a payload, untouched
        ("{name}的{unknown}", "{name}的{unknown}"),  # a slot without value: the text as it is
        ("利率{rate}", "利率None"),
        ("没有占位符", "没有占位符"),
    ]
    from bot.speed import _rasa_interpolate_text

    for text, expected in cases:
        assert fill(text, values) == expected == _rasa_interpolate_text(text, values)
    button = {"title": "学生", "payload": '/inform{"segment": "student"}'}
    assert fill(dict(button), values) == button


async def test_the_rules_found_are_the_rules_rasa_finds(agent, monkeypatch) -> None:
    """Every rule search of a few real conversations (forms, a disclosure, digressions), made
    both ways: the remembered answer is always Rasa's, and repeated states are answered from
    memory."""
    import uuid

    from rasa.core.policies.rule_policy import RulePolicy

    from bot.speed import _get_possible_keys, _rasa_get_possible_keys

    calls = {"searches": 0}

    def both(self, lookup, states):
        calls["searches"] += 1
        ours = _get_possible_keys(self, lookup, states)
        assert ours == _rasa_get_possible_keys(self, lookup, states), states[-3:]
        return ours

    import bot.speed

    misses = {"count": 0}

    def searched_by_rasa(self, lookup, states):  # what the memo could not answer
        misses["count"] += 1
        return _rasa_get_possible_keys(self, lookup, states)

    monkeypatch.setattr(bot.speed, "_rasa_get_possible_keys", searched_by_rasa)
    monkeypatch.setattr(RulePolicy, "_get_possible_keys", both)
    conversations = [
        ["你好", "我想理财", "退休了", "十万", "一年", "不能接受任何亏损", "算了", "谢谢"],
        ["信用卡年费多少", "那金卡呢", "挂失", "我想预约明天下午去网点", "取消", "转人工"],
        ["我想买基金", "好的", "我已阅读并知晓风险", "三年定期利率是多少", "再见"],
    ]
    for round_ in range(2):  # the second round meets the same states again
        for texts in conversations:
            sender = f"rules-{round_}-{uuid.uuid4().hex[:6]}"
            for text in texts:
                assert await agent.handle_text(text, sender_id=sender)
    assert calls["searches"] > 40
    assert misses["count"] < calls["searches"], "states met twice are answered from memory"
    (policy,) = _rule_policies(agent)

    # the oldest state of the longest rules still counts: the same newest states after another start
    import json

    lookup = policy.lookup["rules"]
    longest = max(len(json.loads(key)) for key in lookup)
    rule = next(key for key in lookup if len(json.loads(key)) == longest)
    states = json.loads(rule)
    other_start = [{"prev_action": {"action_name": "action_no_such_action"}}] + states[1:]
    answers = [_rasa_get_possible_keys(policy, lookup, s) for s in (states, other_start)]
    assert rule in answers[0] and rule not in answers[1]
    assert [both(policy, lookup, s) for s in (states, other_start)] == answers


def _rule_policies(agent):
    from rasa.core.policies.rule_policy import RulePolicy

    nodes = agent.processor.graph_runner._instantiated_nodes.values()  # noqa: SLF001 - the loaded graph
    return [n._component for n in nodes if isinstance(n._component, RulePolicy)]  # noqa: SLF001
