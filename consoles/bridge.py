"""Move bytes between a PTY master and a websocket on the event loop, with flow control.

Output follows xterm.js's flow-control guide: the browser acknowledges the bytes it has
written (``term.write(data, callback)``), and once more than HIGH_WATERMARK bytes are read but
unacknowledged the PTY is no longer read until the browser is back under LOW_WATERMARK. The
attach client then blocks on its terminal, tmux sees a slow client and stops sending it every
intermediate screen, so a flood such as ``yes`` never queues up minutes of output ahead of the
user's Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import struct
import termios
from collections import deque
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
# At most this much goes into one websocket frame: large enough for throughput, small enough
# that xterm.js parses a frame well within one animation frame.
FRAME_MAX = 128 * 1024
HIGH_WATERMARK = 256 * 1024
LOW_WATERMARK = 64 * 1024
# Typed input waiting for the PTY to accept it (a big paste into a busy program).
INPUT_BACKLOG_MAX = 1024 * 1024


class PtyBridge:
    """One PTY master fd, read and written without blocking the event loop."""

    def __init__(
        self,
        fd: int,
        *,
        send_output: Callable[[bytes], Awaitable[None]],
        on_eof: Callable[[], Awaitable[None]],
    ) -> None:
        self.fd = fd
        self._send_output = send_output
        self._on_eof = on_eof
        self._loop = asyncio.get_running_loop()
        self._chunks: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._eof = False
        self._closed = False
        self._reading = False
        self._input = bytearray()
        self._hung_up = False  # a write met EIO: the terminal's other end is gone
        self._writing = False
        self.unacked = 0
        self._pump: asyncio.Task | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    # --- output: PTY -> websocket ----------------------------------------------------------
    def start(self) -> None:
        os.set_blocking(self.fd, False)
        self._resume_reading()
        self._pump = self._loop.create_task(self._pump_output())

    def _resume_reading(self) -> None:
        if not self._reading and not self._eof and not self._closed:
            self._loop.add_reader(self.fd, self._readable)
            self._reading = True

    def _pause_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self.fd)
            self._reading = False

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: the attach client has gone (console killed, or it exited)
            data = b""
        if not data:
            self._eof = True
            self._pause_reading()
        else:
            self.unacked += len(data)
            self._chunks.append(data)
            if self.unacked >= HIGH_WATERMARK:
                self._pause_reading()
        self._wake.set()

    async def _pump_output(self) -> None:
        try:
            while not self._closed:
                await self._wake.wait()
                self._wake.clear()
                while self._chunks:
                    await self._send_output(self._next_frame())
                if self._eof:
                    await self._on_eof()
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("console output pump failed")

    def _next_frame(self) -> bytes:
        frame = bytearray(self._chunks.popleft())
        while self._chunks and len(frame) + len(self._chunks[0]) <= FRAME_MAX:
            frame += self._chunks.popleft()
        return bytes(frame)

    def acknowledge(self, count: int) -> bool:
        """The browser has written ``count`` more bytes; False if it claims more than it got."""
        if count > self.unacked:
            return False
        self.unacked -= count
        if self.unacked <= LOW_WATERMARK:
            self._resume_reading()
        return True

    # --- input: websocket -> PTY -----------------------------------------------------------
    def write(self, data: bytes) -> bool:
        """Queue typed bytes for the PTY; False (and nothing queued) if the backlog is full.

        After the PTY hung up, typing is kept (not sent): the console may be attached again
        on a new PTY, which takes it (``pending_input``)."""
        if self._closed:
            return True
        if len(self._input) + len(data) > INPUT_BACKLOG_MAX:
            return False
        self._input += data
        if not (self._eof or self._hung_up):
            self._flush_input()
        return True

    def pending_input(self) -> bytes:
        """Typed bytes not written to the PTY yet (taken: the bridge forgets them)."""
        pending = bytes(self._input)
        self._input.clear()
        return pending

    def _flush_input(self) -> None:
        while self._input:
            try:
                written = os.write(self.fd, self._input)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EIO:
                    self._hung_up = True  # kept for a new PTY (pending_input)
                    break
                if exc.errno != errno.EBADF:
                    logger.warning("console input: %s", exc)
                self._input.clear()
                break
            del self._input[:written]
        wants_writer = bool(self._input) and not self._closed and not self._hung_up
        if wants_writer and not self._writing:
            self._loop.add_writer(self.fd, self._flush_input)
            self._writing = True
        elif not wants_writer and self._writing:
            self._loop.remove_writer(self.fd)
            self._writing = False

    def resize(self, *, rows: int, cols: int) -> None:
        """Set the PTY's window size: a client process gets SIGWINCH and tells tmux (the
        agent's own client is told by console_resize)."""
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    # --- the end ---------------------------------------------------------------------------
    async def detach(self) -> tuple[int, bytes] | None:
        """Stop both directions but keep the master open: (fd, output read but not sent).

        For handing the attach client back to the agent (consoles.consumers' park); the fd
        is the caller's from here on. None if already closed.
        """
        if self._closed:
            return None
        self._closed = True
        self._pause_reading()
        if self._writing:
            self._loop.remove_writer(self.fd)
            self._writing = False
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        unsent = b"".join(self._chunks)
        self._chunks.clear()
        return self.fd, unsent

    async def close(self) -> None:
        """Stop both directions and close the master: the attach client hangs up and exits."""
        detached = await self.detach()
        if detached is not None:
            with contextlib.suppress(OSError):
                os.close(detached[0])
