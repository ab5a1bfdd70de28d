"""Fixtures for the fileserver agent: the Flask app and test client (tutorial style), signed
requests, and the agent running as a real process on a free port."""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from fileserver_agent import create_app
from fileserver_agent.signing import signature_headers
from fileserver_agent.testing import AgentProcess

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


@pytest.fixture(scope="module")
def running_agent(tmp_path_factory) -> Iterator[AgentProcess]:
    """One real agent process (du backend) shared by a test module."""
    root = tmp_path_factory.mktemp("running-agent")
    agent = AgentProcess(agent_environment(root), root / "logs").start()
    yield agent
    agent.stop()
