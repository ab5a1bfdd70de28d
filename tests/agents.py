"""Real agents for Django-side tests: one execution agent and one fileserver agent per test
process, sharing a throw-away homes root, with Django's settings (and the environment that
live-server subprocesses inherit) pointed at them."""

import os
import secrets
import uuid
from pathlib import Path

from django.conf import settings

from execution_agent.testing.harness import AgentHarness
from fileserver_agent.testing import AgentProcess, du_agent_environment

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


def start_fileserver(harness: AgentHarness) -> tuple[AgentProcess, dict]:
    """A real fileserver agent (du backend) on the execution agent's homes root."""
    secret = settings.WARREN_AGENT_SECRETS[0] if settings.WARREN_AGENT_SECRETS else ""
    secret = secret or secrets.token_urlsafe(32)
    state = harness.base / "fileserver"
    env = du_agent_environment(
        homes=harness.homes,
        www=harness.www,
        state=state / "agent-state",
        secret=secret,
        min_uid=settings.WARREN_UID_BASE,
    )
    process = AgentProcess(env, state).start()
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
