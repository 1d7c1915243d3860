"""Kept action-server connections (bot/speed.py): one connection serves many calls, and a call
after the action server has restarted still goes through."""

from __future__ import annotations

import asyncio

from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

import rasa.core.run as rasa_run
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
    import jsonschema
    import pytest
    from rasa.core.actions.action import RemoteAction

    action = RemoteAction("action_answer_faq", EndpointConfig("http://127.0.0.1:1/webhook"))
    good = {"events": [{"event": "slot", "name": "last_faq", "value": "faq/card_lost"}], "responses": [{"text": "好的"}]}
    assert action._validate_action_result(good)
    for bad in ({"events": "slot"}, {"responses": ["text"]}, {"events": [{"event": "no_such_event"}]}):
        with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
            action._validate_action_result(bad)


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
