"""What a user notices during a deploy: sites polled, consoles watched as a browser does.

Used by tests/cluster and bench/deploy.py, from a thread inside the cluster's hub namespace
(cluster.enter_namespace): every socket here is opened in that thread's asyncio loop.

- ``SitePoller``: GETs a user's site over and over on fresh connections, counting answers
  that are not 200 and connections that fail.
- ``ConsoleWatcher``: a console's websocket, acknowledging bytes like xterm.js and
  reconnecting after any close but the server's refusals, as consoles/static/consoles/
  terminal.js does (at once after 0-100 ms of jitter, then from 100 ms, doubling). It
  records when bytes arrived: the longest gap is the pause a user saw.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from dataclasses import dataclass, field

import websockets

FINAL_CLOSES = {4403, 4404, 4409}  # the consumer's refusals: terminal.js stops there too
RETRY_JITTER = 0.1  # the first retry: at once, after a random 0-100 ms
RETRY_FIRST = 0.1
RETRY_MAX = 5.0


@dataclass
class SitePoller:
    host: str
    port: int
    site: str
    ok: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                status = await asyncio.wait_for(self.get(), 30)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
                self.failed += 1
                self.failures.append(f"{time.monotonic():.3f} {type(error).__name__}: {error}")
                continue
            if status == 200:
                self.ok += 1
            else:
                self.failed += 1
                self.failures.append(f"{time.monotonic():.3f} HTTP {status}")

    async def get(self) -> int:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            request = f"GET / HTTP/1.1\r\nHost: {self.site}\r\nConnection: close\r\n\r\n"
            writer.write(request.encode())
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()  # the whole answer, as a browser would
            return int(status_line.split()[1])
        finally:
            writer.close()


@dataclass
class ConsoleWatcher:
    url: str
    headers: dict[str, str]
    command: str = ""
    arrivals: list[float] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)
    output: bytes = b""
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        retry = 0.0
        command = self.command
        while not stop.is_set():
            try:
                async with websockets.connect(self.url, additional_headers=self.headers) as ws:
                    if command:
                        await ws.send(command.encode() + b"\r")
                        command = ""
                    retry = await self._read(ws, stop, retry)
                    if stop.is_set():
                        return
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                self.closes.append(code)
                self.connected.clear()
                if code in FINAL_CLOSES:
                    return
            except (TimeoutError, OSError, EOFError, websockets.InvalidHandshake):
                # Refused, or cut during the handshake (a server going down): retry.
                self.closes.append(1006)
                self.connected.clear()
            await asyncio.sleep(retry or random.uniform(0, RETRY_JITTER))  # noqa: S311
            retry = min(retry * 2, RETRY_MAX) if retry else RETRY_FIRST

    async def _read(self, ws, stop: asyncio.Event, retry: float) -> float:
        while not stop.is_set():
            try:
                frame = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if isinstance(frame, bytes):
                self.arrivals.append(time.monotonic())
                self.output += frame
                await ws.send(json.dumps({"type": "ack", "bytes": len(frame)}))
            elif json.loads(frame).get("type") == "ready":
                self.connected.set()
                retry = 0.0
        return retry

    def longest_pause(self, start: float, end: float) -> float:
        """The longest time without output between ``start`` and ``end`` (monotonic)."""
        times = [start, *(t for t in self.arrivals if start < t < end), end]
        return max(b - a for a, b in itertools.pairwise(times))
