"""Run a private nginx and uWSGI Emperor beside an AgentHarness (tests, benchmarks).

They read the same environment as the harness's agent (its WARREN_WEB_DIR and port), exactly as
the Procfile's `nginx` and `emperor` lines do with the run command's environment.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from execution_agent.web.layout import process_named, read_pid


class WebFrontProcesses:
    """`python -m execution_agent.web.run nginx` and `... emperor` as child processes."""

    def __init__(self, env: dict[str, str], web_dir: Path, port: int, *, python: str = "") -> None:
        self.env = env
        self.web_dir = web_dir
        self.port = port
        self.python = python or sys.executable
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, timeout: float = 20.0) -> WebFrontProcesses:
        """Prepare the web dir once, start both, and wait until nginx listens."""
        subprocess.run(
            [self.python, "-m", "execution_agent.web.run", "prepare"],
            env=self.env,
            cwd="/",
            check=True,
            capture_output=True,
        )
        for name in ("emperor", "nginx"):
            log = open(self.web_dir / f"{name}.out", "ab")  # noqa: SIM115 - the child keeps it
            self.processes[name] = subprocess.Popen(
                [self.python, "-m", "execution_agent.web.run", name],
                env=self.env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited at start:\n{self.output(name)}")
            emperor = process_named(read_pid(self.web_dir / "emperor.pid"), b"emperor")
            if emperor and self._listening():
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"web front not ready:\n{self.output('emperor')}\n{self.output('nginx')}"
        )

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def output(self, name: str) -> str:
        path = self.web_dir / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop nginx and the Emperor (which takes its vassals down with it)."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def http_get(
    port: int, host: str, path: str = "/", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """GET http://127.0.0.1:port/path with Host: host; (status, lower-cased headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("GET", path, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def wait_for_body(
    port: int,
    host: str,
    needle: bytes,
    path: str = "/",
    timeout: float = 15.0,
    interval: float = 0.05,
) -> tuple[int, bytes]:
    """Poll until the page contains needle (a reload from a console is not synchronous)."""
    deadline = time.monotonic() + timeout
    status, body = 0, b""
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            status, _, body = http_get(port, host, path)
            if needle in body:
                return status, body
        time.sleep(interval)
    raise AssertionError(f"{needle!r} not served by {host} within {timeout}s; last: {body[:300]!r}")


def app_settings(user: dict, **overrides) -> dict:
    """web_apply/web_reload settings for a manual WSGI app at <username>.localhost."""
    name = user["username"]
    app = {
        "domain": f"{name}.localhost",
        "enabled": True,
        "python": "3.11",
        "processes": 1,
        "working_dir": f"/home/{name}",
        "virtualenv": None,
        "static": [],
        "auth": None,
        "force_https": False,
        "wsgi_template": {
            "framework": "manual",
            "project_dir": f"/home/{name}",
            "module": "wsgi",
            "callable": "application",
        },
    }
    return {**app, **overrides}
