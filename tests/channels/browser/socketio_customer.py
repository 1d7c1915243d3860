"""A customer's page reduced to a python-socketio client speaking the website chat's protocol."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

EVENTS = ("session_confirm", "bot_uttered", "agent_status")
# python-engineio 4.15's websocket client needs aiohttp>=3.10; rasa 3.6 pins 3.9, so long-polling
TRANSPORTS = ["polling"]


class Customer:
    """One socket.io connection: ask for a session, say things, collect what arrives."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: dict[str, asyncio.Queue] = {name: asyncio.Queue() for name in EVENTS}
        self.session_id: str | None = None
        for name in EVENTS:
            self.sio.on(name, self._collector(name))

    def _collector(self, name: str):
        async def collect(data: Any = None) -> None:
            await self.received[name].put(data)

        return collect

    async def open(self, session_id: str | None = None, request: bool = True) -> str | None:
        """Connect and (unless ``request`` is False) ask for ``session_id`` or a new session."""
        await self.sio.connect(self.base_url, socketio_path="/socket.io", transports=TRANSPORTS)
        if not request:
            return None
        await self.sio.emit("session_request", {"session_id": session_id})
        self.session_id = await self.next("session_confirm")
        return self.session_id

    @property
    def conversation(self) -> str | None:
        """The conversation id inside the signed session token."""
        return self.session_id.split(".")[0] if self.session_id else None

    async def say(self, text: str, session_id: str | None = None) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": session_id or self.session_id})

    async def next(self, event: str = "bot_uttered", timeout: float = 15) -> Any:
        """The next ``event`` received; fails the test when none comes within ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.received[event].get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {event} within {timeout} s") from None

    async def replies_until(self, contains: str, timeout: float = 20) -> list[dict[str, Any]]:
        """Bot messages up to and including the first whose text contains ``contains``."""
        seen: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no reply containing {contains!r}; got {seen}")
            try:
                message = await self.next("bot_uttered", timeout=left)
            except AssertionError:
                raise AssertionError(f"no reply containing {contains!r}; got {seen}") from None
            seen.append(message)
            if contains in (message.get("text") or ""):
                return seen

    async def nothing_more(self, event: str = "bot_uttered", wait: float = 1.0) -> bool:
        """True when no ``event`` arrives within ``wait`` seconds."""
        try:
            await asyncio.wait_for(self.received[event].get(), wait)
            return False
        except asyncio.TimeoutError:
            return True

    async def close(self) -> None:
        """Leave like a closed tab: the server is told at once, without waiting out the pending long-poll."""
        eio = self.sio.eio
        writer, reader = eio.write_loop_task, eio.read_loop_task
        await eio.disconnect(abort=True)
        if writer is not None:  # it sends the close packet, then ends
            await asyncio.wait([writer], timeout=2)
        for task in (writer, reader):
            if task is not None and not task.done():
                task.cancel()
