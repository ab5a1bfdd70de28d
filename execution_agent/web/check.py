"""Is the reloaded app up? Watch uWSGI's own log lines, then ask nginx with the app's Host."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from execution_agent.validation import UserRef
from execution_agent.web.logs import AppLogs
from execution_agent.web.render import log_name
from execution_agent.web.spec import AppSpec

READY_MARKER = b"WSGI app 0 (mountpoint='') ready"
# The master's last start-up line: only from here on does touching the WSGI file reload it.
WATCHING_MARKER = b"[uwsgi-fsmon] registered monitor"
FAILED_MARKERS = (b"no app loaded", b"unable to load app")


class ReloadCheck:
    def __init__(self, logs: AppLogs, address: tuple[str, int], probe_secret: Callable) -> None:
        self.logs = logs
        self.address = address
        self.probe_secret = probe_secret

    def wait_for_app(
        self,
        user: UserRef,
        domain: str,
        starts: dict[str, tuple[int, int]],
        deadline: float,
        config: bytes | None = None,
    ) -> str:
        """'ready', 'failed' or 'timeout', from what uWSGI logs after starts (inode, offset).

        uWSGI routes log messages chunk by chunk, so "no app loaded" may land in the error log
        with the traceback before it: both logs are read. ``config``: the line the vassal of
        the ini just written prints once its app is loaded (render.config_marker); "ready"
        needs it, since the lines of a start still under way with the previous ini can land
        after ``starts`` too (once, in CI, "Reloaded" came before a new static mapping).
        """
        positions = dict(starts)
        watching_since = None
        while time.monotonic() < deadline:
            seen = {}
            for kind, (inode, offset) in positions.items():
                seen[kind] = self.logs.read_log_from(user, log_name(domain, kind), inode, offset)
            everything = seen["server"] + seen["error"]
            if WATCHING_MARKER in everything:
                if READY_MARKER in everything and (config is None or config in everything):
                    return "ready"
                if any(marker in everything for marker in FAILED_MARKERS):
                    return "failed"
                watching_since = watching_since or time.monotonic()
                if time.monotonic() - watching_since > 2:
                    return "failed"
            time.sleep(0.02)
        return "timeout"

    def probe(self, spec: AppSpec, deadline: float) -> int | None:
        """The status nginx answers for the app's host, once a worker with its block answers."""
        secret = self.probe_secret()
        request = (
            f"GET / HTTP/1.1\r\nHost: {spec.domain}\r\nX-Warren-Probe: {secret}\r\n"
            "X-Forwarded-Proto: https\r\nUser-Agent: warren-reload-check\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        status = None
        while time.monotonic() < deadline:
            status, unknown_host = self._probe_once(request)
            if status is not None and not unknown_host and status not in (502, 503, 504):
                return status
            time.sleep(0.02)
        return status

    def _probe_once(self, request: bytes) -> tuple[int | None, bool]:
        address = self.address
        try:
            with socket.create_connection(address, timeout=10) as connection:
                connection.sendall(request)
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    head += chunk
        except OSError:
            return None, False
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return None, False
        return status, b"x-warren-unknown-host" in head.lower()
