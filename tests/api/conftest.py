import os
import subprocess
import sys

import pytest
from django.test import Client

from api.services import api_token_create

# Other rooms' fixtures the API's tests stand on (the same agents and servers as theirs).
from tests.databases.conftest import (  # noqa: F401
    db_servers,
    mysql_server,
    name_prefix,
    postgres_server,
    run_on_commit,
)
from tests.live import REPO
from tests.schedules.conftest import task_server  # noqa: F401
from tests.webapps.conftest import web, web_port  # noqa: F401


class ApiClient:
    """Django's test client speaking to /api/v1/user/<username>/ with a token."""

    def __init__(self, token: str, username: str):
        self.client = Client()
        self.token = token
        self.base = f"/api/v1/user/{username}/"

    def _headers(self, extra: dict) -> dict:
        return {"HTTP_AUTHORIZATION": f"Token {self.token}", **extra}

    def get(self, path: str, **extra):
        return self.client.get(self.base + path, **self._headers(extra))

    def delete(self, path: str, **extra):
        return self.client.delete(self.base + path, **self._headers(extra))

    def post(self, path: str, data=None, content_type="application/json", **extra):
        if data is None:  # no body at all (Client.post would send an empty multipart one)
            return self.client.generic("POST", self.base + path, b"", **self._headers(extra))
        return self.client.post(
            self.base + path, data, content_type=content_type, **self._headers(extra)
        )

    def as_(self, username: str) -> "ApiClient":
        """The same token, in another user's URLs (someone else's things)."""
        return ApiClient(self.token, username)


def token_for(user) -> str:
    return api_token_create(user=user, name="test")[1]


@pytest.fixture
def alice_api(user):
    return ApiClient(token_for(user), user.username)


@pytest.fixture
def mallory_api(outsider):
    """mallory's token, aimed at alice's URLs: everything of alice's must be a 404."""
    return ApiClient(token_for(outsider), "alice")


def warren(server, token, *args, env=None, home=None):
    """Run the `warren` command (the console script's own entry point) as a user would."""
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home or "/nonexistent"),
        "WARREN_URL": server.url if server else "",
        "WARREN_API_TOKEN": token or "",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "warren_cli", *args],
        cwd=REPO,
        env={k: v for k, v in environment.items() if v},
        capture_output=True,
        text=True,
        timeout=60,
    )
