"""Real agents for Django-side tests: one execution agent and one fileserver agent per test
process, sharing a throw-away homes root, with Django's settings (and the environment that
live-server subprocesses inherit) pointed at them."""

import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings

from execution_agent.harness import AgentHarness

REPO = Path(__file__).resolve().parent.parent


def point_django_at(**values) -> dict:
    """Set Django settings and the matching environment variables; return the old values."""
    old = {}
    for name, value in values.items():
        old[name] = (getattr(settings, name, None), os.environ.get(name))
        setattr(settings, name, value)
        os.environ[name] = ",".join(value) if isinstance(value, list) else str(value)
    return old


def restore_django(old: dict) -> None:
    for name, (setting, environ) in old.items():
        setattr(settings, name, setting)
        if environ is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = environ


def start_execution_agent() -> tuple[AgentHarness, dict]:
    harness = AgentHarness(
        uid_base=settings.WARREN_UID_BASE,
        cgroup_prefix=f"warren-test-{uuid.uuid4().hex[:10]}",
        allowed_uids=(0, os.geteuid()),
    )
    harness.start()
    old = point_django_at(
        WARREN_EXEC_AGENT_SOCKET=harness.socket_path,
        WARREN_HOMES_ROOT=harness.homes,
        WARREN_WWW_ROOT=harness.www,
        WARREN_RUN_DIR=harness.run_dir,
    )
    return harness, old


class FileserverProcess:
    """``python -m fileserver_agent`` on a free port, du backend, on the given roots."""

    def __init__(self, *, homes: Path, www: Path, state: Path, secret: str):
        state.mkdir(parents=True, exist_ok=True)
        self.stdout_path = state / "fileserver.out"
        self.log_path = state / "fileserver.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "WARREN_HOMES_ROOT": str(homes),
            "WARREN_WWW_ROOT": str(www),
            "WARREN_AGENT_BACKEND": "du",
            "WARREN_AGENT_STATE_DIR": str(state / "agent-state"),
            "WARREN_AGENT_SECRETS": secret,
            "WARREN_AGENT_MIN_UID": str(settings.WARREN_UID_BASE),
        }
        with open(self.stdout_path, "wb") as out, open(self.log_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fileserver_agent", "--host", "127.0.0.1", "--port", "0"],
                stdout=out,
                stderr=err,
                env=env,
                cwd=REPO,
            )
        self.url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text()
            if "listening on " in text:
                return text.split("listening on ", 1)[1].split()[0]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"fileserver agent did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_fileserver(harness: AgentHarness) -> tuple[FileserverProcess, dict]:
    secret = settings.WARREN_AGENT_SECRETS[0] if settings.WARREN_AGENT_SECRETS else ""
    secret = secret or secrets.token_urlsafe(32)
    process = FileserverProcess(
        homes=harness.homes, www=harness.www, state=harness.base / "fileserver", secret=secret
    )
    old = point_django_at(WARREN_FILESERVER_URL=process.url, WARREN_AGENT_SECRETS=[secret])
    return process, old


def process_running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie waiting for its parent's wait() is not)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            state = next(line for line in handle if line.startswith("State:"))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return False
    return state.split()[1] != "Z"
