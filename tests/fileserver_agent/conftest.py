"""Fixtures for the fileserver agent: the Flask app and test client (tutorial style), signed
requests, and the agent running as a real process on a free port."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest

from fileserver_agent import create_app
from fileserver_agent.signing import signature_headers

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-" + secrets.token_hex(16)
OLD_SECRET = "old-secret-" + secrets.token_hex(16)

# A uid range of our own per session, so parallel runs on one machine never share owners.
UID_BASE = int(os.environ.get("WARREN_UID_BASE", 3_000_000 + 10_000 * random.randrange(1, 100)))
_next_uid = count(UID_BASE + 1)
_next_name = count(1)


def new_uid() -> int:
    """A uid no other test in this session uses."""
    return next(_next_uid)


def new_username(prefix: str = "user") -> str:
    """A valid username no other test in this session uses."""
    return f"{prefix}-{os.getpid()}-{next(_next_name)}"


def agent_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Configuration for one agent whose every path lives under ``tmp_path``."""
    homes = tmp_path / "homes"
    homes.mkdir(exist_ok=True)
    env = {
        "WARREN_HOMES_ROOT": str(homes),
        "WARREN_WWW_ROOT": str(tmp_path / "www"),
        "WARREN_AGENT_STATE_DIR": str(tmp_path / "state"),
        "WARREN_AGENT_SECRETS": SECRET,
        "WARREN_AGENT_BACKEND": "du",
        "WARREN_AGENT_MIN_UID": "1000",
        "WARREN_DU_RESCAN_SECONDS": "60",
    }
    env.update(overrides)
    return env


@pytest.fixture
def agent_env(tmp_path: Path) -> dict[str, str]:
    """The environment the ``app`` fixture is built from; edit it before asking for ``app``."""
    return agent_environment(tmp_path)


@pytest.fixture
def app(agent_env: dict[str, str]):
    """A fresh agent app for each test."""
    return create_app(agent_env)


@pytest.fixture
def client(app):
    """Flask's test client for ``app``; requests are unsigned unless signed by ``signed``."""
    return app.test_client()


class SignedClient:
    """Sends requests through the Flask test client with valid signature headers."""

    def __init__(self, client, secret: str = SECRET) -> None:
        self.client = client
        self.secret = secret
        self._last_timestamp = 0
        self._lock = threading.Lock()

    def request(self, method: str, path: str, payload=None, *, raw: bytes | None = None):
        """Sign and send; ``raw`` sends exact bytes instead of JSON-encoding ``payload``."""
        body = raw if raw is not None else b"" if payload is None else json.dumps(payload).encode()
        # Each request gets its own second so two identical ones are not replays.
        with self._lock:
            self._last_timestamp = max(int(time.time()), self._last_timestamp + 1)
            timestamp = self._last_timestamp
        headers = signature_headers(self.secret, method, path, body, timestamp=timestamp)
        return self.client.open(
            path, method=method, data=body, headers=headers, content_type="application/json"
        )

    def get(self, path: str):
        return self.request("GET", path)

    def put(self, path: str, payload=None, **kwargs):
        return self.request("PUT", path, payload, **kwargs)

    def post(self, path: str, payload=None, **kwargs):
        return self.request("POST", path, payload, **kwargs)


@pytest.fixture
def signed(client) -> SignedClient:
    """The test client, signing every request with the agent's secret."""
    return SignedClient(client)


@dataclass
class RunningAgent:
    """An agent started with ``python -m fileserver_agent`` in its own process."""

    process: subprocess.Popen
    base_url: str
    env: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_agent(
    env: dict[str, str], log_dir: Path, *, args: tuple[str, ...] = (), timeout: float = 15
) -> RunningAgent:
    """Start the agent on a free port (``--port 0``) and wait for its listening line."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path = log_dir / f"agent-{secrets.token_hex(3)}.out"
    log_path = stdout_path.with_suffix(".log")
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO_ROOT)}
    full_env.update(env)
    # Files, not pipes: a chatty agent must never block on a pipe nobody reads.
    with open(stdout_path, "wb") as stdout, open(log_path, "wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fileserver_agent",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *args,
            ],
            stdout=stdout,
            stderr=stderr,
            env=full_env,
            cwd=REPO_ROOT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = stdout_path.read_text()
        if "listening on " in text:
            url = text.split("listening on ", 1)[1].split()[0]
            return RunningAgent(process, url, env, log_path)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"agent did not start:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def running_agent(tmp_path_factory) -> Iterator[RunningAgent]:
    """One real agent process (du backend) shared by a test module."""
    root = tmp_path_factory.mktemp("running-agent")
    agent = start_agent(agent_environment(root), root / "logs")
    yield agent
    agent.stop()
