import asyncio
import contextlib
import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from consoles import tmux
from tests.factories import person

ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture
def owner(db, provisioned):
    """alice, with a home on the test agents."""
    return provisioned(person("alice"))


@pytest.fixture
def viewer(db, provisioned):
    """bob: someone alice may share a console with."""
    return provisioned(person("bob"))


@pytest.fixture
def stranger(db, provisioned):
    """mallory, who must never see alice's consoles."""
    return provisioned(person("mallory"))


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


class TerminalSocket:
    """A websocket client the way xterm.js is one: it acknowledges every byte it receives."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.output = b""
        self.seen = 0
        self.controls: list[dict] = []
        self.closed: dict | None = None

    async def _receive(self, timeout: float) -> None:
        # receive_output's own timeout would cancel the application: poll without it.
        if await self.communicator.receive_nothing(timeout=min(timeout, 0.2), interval=0.002):
            raise TimeoutError
        message = await self.communicator.receive_output(5)
        if message["type"] == "websocket.close":
            self.closed = message
            raise EOFError(f"socket closed: {message}")
        if message.get("bytes") is not None:
            self.output += message["bytes"]
            await self.communicator.send_to(
                text_data=json.dumps({"type": "ack", "bytes": len(message["bytes"])})
            )
        else:
            self.controls.append(json.loads(message["text"]))

    async def until(self, marker: bytes, timeout: float = 10) -> bytes:
        """Output up to marker, looking only at what arrived since the last call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while marker not in self.output[self.seen :]:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{marker!r} not seen; got {self.output[-400:]!r}")
            try:
                await self._receive(remaining)
            except TimeoutError:
                continue
        end = self.output.index(marker, self.seen) + len(marker)
        seen, self.seen = self.output[self.seen : end], end
        return seen

    async def control_until(self, kind: str, timeout: float = 5) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in self.controls:
                if message.get("type") == kind:
                    self.controls.remove(message)
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no {kind!r} frame; got {self.controls}")
            try:
                await self._receive(remaining)
            except TimeoutError:
                continue

    async def closed_within(self, timeout: float) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.closed is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("the socket stayed open")
            try:
                await self._receive(remaining)
            except EOFError:
                break
            except TimeoutError:
                continue
        return self.closed

    async def type(self, text: str | bytes) -> None:
        await self.communicator.send_to(bytes_data=text.encode() if isinstance(text, str) else text)

    async def control(self, message) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.communicator.send_to(text_data=text)

    async def run(self, command: str, marker: bytes, timeout: float = 10) -> bytes:
        await self.type(command + "\r")
        return await self.until(marker, timeout)


def communicator_for(console_id: str, cookie: bytes | None, *, origin=ORIGIN, query: str = ""):
    headers = [origin] if origin else []
    if cookie:
        headers.append((b"cookie", cookie))
    path = f"/ws/consoles/{console_id}/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.fixture
async def open_terminal():
    """``await open_terminal(console_id, user)`` -> a connected TerminalSocket (closed after)."""
    opened: list[WebsocketCommunicator] = []

    async def connect(console_id: str, user, *, query: str = "rows=24&cols=80") -> TerminalSocket:
        from channels.db import database_sync_to_async

        cookie = await database_sync_to_async(session_cookie)(user)
        communicator = communicator_for(console_id, cookie, query=query)
        connected, code = await communicator.connect(timeout=10)
        assert connected, f"refused with {code}"
        opened.append(communicator)
        socket = TerminalSocket(communicator)
        await socket.control_until("ready", timeout=10)
        return socket

    yield connect
    for communicator in opened:
        # Already closed by the server in some tests: nothing left to do then.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await communicator.disconnect(timeout=5)


def screen_of(console) -> str:
    return tmux.capture(console, lines=200)
