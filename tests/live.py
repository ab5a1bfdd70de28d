"""A real Warren ASGI server (uvicorn, as the Procfile runs it) in a subprocess, on the test DB.

Browser and websocket tests drive this, not Django's test client, so that they go through
the same ASGI stack, middleware and static files a user's browser meets.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from django.db import connection

from execution_agent.testing.harness import free_port, wait_for_port

REPO = Path(__file__).resolve().parent.parent
ASGI_APP = "config.asgi:application"


def database_url_for_subprocess() -> str:
    """A DATABASE_URL naming the database this test process is using right now."""
    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = config.get("HOST") or "127.0.0.1"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{config['NAME']}"


def procfile_web_command(port: int) -> list[str]:
    """The Procfile's web line, on ``port``: tests meet the server and options users get."""
    line = next(
        line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    words = [word for word in shlex.split(line.removeprefix("web:")) if not word.startswith("$")]
    words[words.index("--port") + 1] = str(port)
    assert words[-1] == ASGI_APP, words
    return [sys.executable, "-m", *words]


class LiveServer:
    """uvicorn serving config.asgi on a free port; its log is kept for reading mail from."""

    def __init__(self, log_dir: Path, extra_env: dict | None = None, port: int | None = None):
        # A given port: a restart that browsers reconnect to (the page keeps its address).
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"asgi-{self.port}.log"
        env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), **(extra_env or {})}
        env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        env["PYTHONUNBUFFERED"] = "1"
        # Emails are printed by the console backend into this log, as on the embedded default.
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            procfile_web_command(self.port),
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, process=self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


def find_link(log_text: str, path_prefix: str) -> str | None:
    links = re.findall(rf"https?://[^\s]+({re.escape(path_prefix)}[^\s]+)", log_text)
    return links[-1] if links else None
