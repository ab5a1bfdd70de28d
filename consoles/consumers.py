"""The console websocket: ``/ws/consoles/<id>/``.

Binary frames carry terminal bytes both ways. Text frames carry small JSON control messages:

- browser -> server: ``{"type": "resize", "rows": r, "cols": c}`` (owner and read-write
  sharees only) and ``{"type": "ack", "bytes": n}`` (flow control, see ``consoles.bridge``);
- server -> browser: ``{"type": "ready", "read_only": bool}``, ``{"type": "exit"}`` when the
  console's tmux session is gone, ``{"type": "error", "message": str}`` for a refused frame.

``?watch=1`` attaches read-only whatever the access allows (the classroom view's small
terminals: a teacher watching must neither type nor resize the student's window).

Origin is checked before this consumer runs (``AllowedHostsOriginValidator`` in config.asgi)
and the session user by ``AuthMiddlewareStack``. A sharee's access is checked again when the
owner changes shares (a channel-layer group message) and every few seconds (so a revocation
made through another process, with the in-memory layer, still closes the socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import os
import time
import weakref
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from config import lifespan
from consoles import tmux
from consoles.bridge import PtyBridge
from consoles.selectors import console_access, console_group
from metrics.instruments import websocket_sessions

logger = logging.getLogger(__name__)

SIZE_MIN, SIZE_MAX = 2, 1000
CONTROL_FRAME_MAX = 1024
# Close codes (4000-4999 are the application's): the page tells the user what happened.
CLOSE_REFUSED = 4403
CLOSE_GONE = 4404
CLOSE_ACCESS_CHANGED = 4409
CLOSE_UNAVAILABLE = 4503
CLOSE_SERVICE_RESTART = 1012
# A terminal that hangs up this soon after being attached again is not attached again (see
# _pty_ended); an agent not answering is waited for this long before the page is told.
REATTACH_AFTER_SECONDS = 1.0
REATTACH_WAIT_SECONDS = 15.0


def _size(value, default: int) -> int:
    return value if isinstance(value, int) and SIZE_MIN <= value <= SIZE_MAX else default


def initial_size(query_string: bytes) -> tuple[int, int]:
    """rows and cols from ``?rows=&cols=``, so the first screen is drawn at the right size."""
    query = parse_qs(query_string.decode("latin-1"))

    def number(name: str, default: int) -> int:
        raw = (query.get(name) or [""])[0]
        return _size(int(raw), default) if raw.isdigit() and len(raw) < 6 else default

    return number("rows", 24), number("cols", 80)


def wants_watch_only(query_string: bytes) -> bool:
    """``?watch=1``: attach read-only even with read-write access."""
    return (parse_qs(query_string.decode("latin-1")).get("watch") or [""])[0] == "1"


class ConsoleConsumer(AsyncWebsocketConsumer):
    bridge: PtyBridge | None = None
    access = None
    watch_only = False
    recheck_task: asyncio.Task | None = None
    counted = False
    size: tuple[int, int] | None = None  # (rows, cols) tmux was last told
    reattached_at = float("-inf")
    disconnected = False

    async def __call__(self, scope, receive, send):
        """Channels' loop, on a straighter path for keystrokes.

        Channels waits on the browser and the channel layer together, making a task and an
        ``asyncio.wait`` for every frame. Here the browser's frames are awaited directly and the
        channel layer's group messages (kills, share changes) in a task beside; a lock keeps
        handlers one at a time, as Channels does.
        """
        self.scope = scope
        self.base_send = send
        self._handling = asyncio.Lock()
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        listener = None
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            listener = asyncio.create_task(self._listen_to_group())
        try:
            while True:
                message = await receive()
                async with self._handling:
                    await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen_to_group(self) -> None:
        while True:
            message = await self.channel_receive()
            try:
                async with self._handling:
                    await self.dispatch(message)
            except StopConsumer:
                return
            except Exception:
                logger.exception("console group message %s failed", message.get("type"))

    async def connect(self):
        console_id = self.scope["url_route"]["kwargs"]["console_id"]
        self.access = await database_sync_to_async(console_access)(self.scope["user"], console_id)
        if self.access is None:
            # Not accepted: the handshake is refused, and nobody learns whether the id exists.
            await self.close(code=CLOSE_REFUSED)
            return
        self.watch_only = wants_watch_only(self.scope.get("query_string", b""))
        if self.watch_only:
            self.access = dataclasses.replace(self.access, read_only=True)
        self.group = console_group(console_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.counted = True
        websocket_sessions.labels(consumer="console").inc()
        if not await self._attach(*initial_size(self.scope.get("query_string", b""))):
            return
        _attached.add(self)  # parked if this process shuts down (see the end of this module)
        await self._control({"type": "ready", "read_only": self.access.read_only})
        if not self.access.is_owner:
            self.recheck_task = asyncio.create_task(self._recheck_periodically())

    async def _attach(self, rows: int, cols: int) -> bool:
        """Attach a client and bridge its PTY; False (and the socket closed) if refused."""
        try:
            fd = await self._attach_client(rows, cols)
        except tmux.AgentError as exc:
            if exc.code == "not_found":
                await self._refuse(CLOSE_GONE, "This console is not running any more.")
            else:
                await self._refuse(CLOSE_UNAVAILABLE, f"Could not attach: {exc.message}"[:120])
            return False
        except tmux.AgentUnavailable:
            await self._refuse(CLOSE_UNAVAILABLE, "The console server is not answering.")
            return False
        self._bridge(fd, rows, cols)
        return True

    async def _attach_client(self, rows: int, cols: int) -> int:
        return await asyncio.to_thread(
            tmux.attach,
            self.access.console,
            read_only=self.access.read_only,
            rows=rows,
            cols=cols,
        )

    def _bridge(self, fd: int, rows: int, cols: int, unacked: int = 0) -> None:
        self.size = (rows, cols)
        self.bridge = PtyBridge(fd, send_output=self._send_output, on_eof=self._pty_ended)
        # Bytes of an earlier client the browser has not acknowledged yet still count.
        self.bridge.unacked = unacked
        self.bridge.start()

    async def disconnect(self, code):
        self.disconnected = True
        if self.counted:
            self.counted = False
            websocket_sessions.labels(consumer="console").dec()
        if code == CLOSE_SERVICE_RESTART:
            await self.park()  # uvicorn closed the socket first: park what is left
        await self._release()
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _release(self) -> None:
        """Stop re-checking and close the PTY master (the attach client then exits)."""
        task, self.recheck_task = self.recheck_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if self.bridge is not None:
            await self.bridge.close()

    async def _shutdown(self, code: int, reason: str) -> None:
        await self._release()
        await self.close(code=code, reason=reason)

    # --- parking (this process shutting down; see the end of this module) ------------------
    async def park(self) -> None:
        """Hand the attach client back to the agent, sending what was read of it first."""
        detached = await self.bridge.detach() if self.bridge is not None else None
        if detached is None:
            return
        fd, unsent = detached
        try:
            if unsent:
                with contextlib.suppress(Exception):  # the socket may be closed already
                    await self._send_output(unsent)
            await asyncio.to_thread(tmux.park, self.access.console, fd)
        except Exception as exc:  # the page re-attaches with a new client then
            logger.info("console %s: could not park its client: %s", self.access.console.pk, exc)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)

    async def park_and_close(self) -> None:
        async with self._handling:
            await self.park()
            with contextlib.suppress(Exception):
                await self.close(code=CLOSE_SERVICE_RESTART)

    # --- frames from the browser -----------------------------------------------------------
    async def dispatch(self, message):
        # Channels hops to a thread to close stale database connections before every handler
        # (about 0.3 ms a frame here). Keystrokes and acks never touch the database, so they
        # skip it.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def receive(self, text_data=None, bytes_data=None):
        if self.bridge is None or self.bridge.closed:
            return
        if bytes_data is not None:
            # A read-only viewer's keystrokes stop here; tmux would drop them too (-r).
            if not self.access.read_only and not self.bridge.write(bytes_data):
                await self._error("Input is arriving faster than the console can take it.")
            return
        await self._handle_control(text_data or "")

    async def _handle_control(self, text: str) -> None:
        message = None
        if len(text) <= CONTROL_FRAME_MAX:
            with contextlib.suppress(ValueError):
                message = json.loads(text)
        if not isinstance(message, dict):
            await self._error("Control frames are small JSON objects.")
            return
        kind = message.get("type")
        if kind == "ack":
            count = message.get("bytes")
            valid = isinstance(count, int) and not isinstance(count, bool) and count > 0
            if not (valid and self.bridge.acknowledge(count)):
                await self._error("An ack names a positive count of bytes received.")
        elif kind == "resize":
            await self._resize(message)
        else:
            await self._error("Unknown control frame.")

    async def _resize(self, message: dict) -> None:
        if self.access.read_only:
            return  # a viewer's window must never change the owner's
        rows, cols = message.get("rows"), message.get("cols")
        if _size(rows, 0) == 0 or _size(cols, 0) == 0:
            await self._error(f"A size is {SIZE_MIN} to {SIZE_MAX} rows and columns.")
            return
        if (rows, cols) == self.size:
            return  # the page's first resize repeats the size it attached with
        self.size = (rows, cols)
        self.bridge.resize(rows=rows, cols=cols)  # enough for a client process (SIGWINCH)
        try:
            # The agent's own clients hear no SIGWINCH: the agent tells tmux.
            await asyncio.to_thread(
                tmux.resize, self.access.console, self.bridge.fd, rows=rows, cols=cols
            )
        except (tmux.AgentError, tmux.AgentUnavailable, OSError) as exc:
            logger.info("console %s: resize not passed on: %s", self.access.console.pk, exc)

    # --- frames to the browser -------------------------------------------------------------
    async def _send_output(self, data: bytes) -> None:
        await self.send(bytes_data=data)

    async def _control(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message))

    async def _error(self, text: str) -> None:
        await self._control({"type": "error", "message": text})

    async def _refuse(self, code: int, reason: str) -> None:
        await self._control({"type": "error", "message": reason})
        await self.close(code=code, reason=reason)

    async def _pty_ended(self) -> None:
        """The terminal hung up: the console ended, or only its client went (the agent
        restarted, and its clients with it). A console still there is attached anew, on this
        socket, once the agent answers again."""
        old = self.bridge
        if time.monotonic() - self.reattached_at < REATTACH_AFTER_SECONDS:
            # A client lost again at once: the page retries, with its back-off.
            await self._shutdown(CLOSE_UNAVAILABLE, "The console's terminal was lost.")
            return
        self.reattached_at = time.monotonic()
        rows, cols = self.size or (24, 80)
        deadline = time.monotonic() + REATTACH_WAIT_SECONDS
        delay = 0.05
        while True:
            try:
                fd = await self._attach_client(rows, cols)
                break
            except tmux.AgentError as exc:
                if exc.code == "not_found":
                    await self._console_ended()
                    return
                reason = f"Could not attach: {exc.message}"[:120]
            except tmux.AgentUnavailable:
                reason = "The console server is not answering."
            if self.disconnected:
                return
            if time.monotonic() + delay > deadline:
                await self._refuse(CLOSE_UNAVAILABLE, reason)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        if self.disconnected:  # the browser left while the agent came back
            os.close(fd)
            return
        self._bridge(fd, rows, cols, old.unacked if old is not None else 0)
        if old is not None:
            self.bridge.write(old.pending_input())  # what was typed while it was away
            await old.close()

    async def _console_ended(self) -> None:
        await self._control({"type": "exit"})
        await self._shutdown(1000, "The console has ended.")

    # --- access changes --------------------------------------------------------------------
    async def console_shares_changed(self, event) -> None:
        """Group message: the owner changed shares; see whether this socket may stay."""
        await self._recheck()

    async def console_gone(self, event) -> None:
        """Group message: the console was killed."""
        await self._console_ended()

    async def _recheck(self) -> None:
        if self.access is None or self.access.is_owner:
            return
        now = await database_sync_to_async(console_access)(
            self.scope["user"], self.access.console.pk
        )
        if now is None:
            await self._shutdown(CLOSE_REFUSED, "The owner stopped sharing this console.")
        elif (now.read_only or self.watch_only) != self.access.read_only:
            await self._shutdown(CLOSE_ACCESS_CHANGED, "Your access to this console changed.")

    async def _recheck_periodically(self) -> None:
        interval = settings.WARREN_CONSOLE_ACCESS_RECHECK_SECONDS
        try:
            while True:
                await asyncio.sleep(interval)
                await self._recheck()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("console access re-check failed")


# --- parking: a deploy restarts this process ------------------------------------------------
# When the ASGI process shuts down (config.serve's rolling restart), every console socket hands
# its tmux attach client back to the agent (console_park) before closing with 1012: the page
# reconnects to the new process at once and its console_attach takes that client instead of
# starting one, so the console only pauses for the reconnect.
_attached: weakref.WeakSet[ConsoleConsumer] = weakref.WeakSet()


async def park_all() -> None:
    """Park every attached console's client and close its socket with 1012 (restarting)."""
    consumers = list(_attached)
    if consumers:
        await asyncio.gather(*(consumer.park_and_close() for consumer in consumers))
        logger.info("parked %d console clients before shutting down", len(consumers))


lifespan.before_shutdown(park_all)
