"""Kept action-server connections (bot/speed.py): one connection serves many calls, and a call
after the action server has restarted still goes through."""

from __future__ import annotations

import asyncio

from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

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

    asyncio.run(scenario())
