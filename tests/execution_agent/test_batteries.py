"""The batteries in a real sandbox: packages python3 imports without installing, pip's wheels
directory (a new virtualenv installs offline), and the console tools.

The batteries are built by bin/lib/common.sh's ensure_batteries itself, from a one-line
list (requests and its four dependencies: a few seconds from PyPI), into a directory of the
test's own; an agent of its own shows it at /opt/warren.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from execution_agent.testing.harness import AgentHarness, random_uid_base
from tests.deploy.test_run import bash

pytestmark = pytest.mark.root

CONSOLE_TOOLS = ("mutt", "git", "vim", "nano", "curl", "sqlite3", "htop", "less", "zip")
_runs = iter(range(1, 1_000_000))


@pytest.fixture(scope="module")
def batteries():
    base = Path(tempfile.mkdtemp(prefix="warren-quota-batteries-", dir="/tmp"))
    base.chmod(0o755)
    (base / "list.txt").write_text("requests\n")
    built = bash(f'ensure_batteries "{base}/list.txt" "{base}/batteries"')
    if built.returncode != 0 and "Could not find a version" in built.stderr + built.stdout:
        shutil.rmtree(base)
        pytest.skip(f"PyPI is not reachable: {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr
    yield base / "batteries"
    shutil.rmtree(base)


@pytest.fixture(scope="module")
def agent(batteries):
    harness = AgentHarness(
        uid_base=random_uid_base(),
        cgroup_prefix=f"warren-quota-batteries-{uuid.uuid4().hex[:8]}",
        extra_env={"WARREN_BATTERIES_DIR": str(batteries)},
    )
    with harness.running():
        yield harness


@pytest.fixture(scope="module")
def user(agent):
    return agent.user(1, "battery")


def run(agent: AgentHarness, user, command: str, wall: float = 120) -> str:
    """Run ``command`` as a task in the user's sandbox; return its log."""
    client = agent.client()
    run_id = f"battery{next(_runs):08d}"
    client.task_start(
        user=user,
        task_id=1,
        run_id=run_id,
        command=command,
        log=f"logs/{run_id}.log",
        wall_seconds=wall,
        log_max_bytes=1 << 20,
    )
    deadline = time.monotonic() + wall + 10
    while time.monotonic() < deadline:
        if any(r["run_id"] == run_id for r in client.task_results()["finished"]):
            return (agent.homes / user["username"] / "logs" / f"{run_id}.log").read_text()
        time.sleep(0.1)
    raise TimeoutError(run_id)


def test_python3_imports_a_battery_without_installing_it(agent, user):
    log = run(agent, user, 'python3 -c "import requests; print(requests.__file__)"')
    assert "/opt/warren/site-packages/requests/__init__.py" in log


def test_without_batteries_the_same_import_fails(harness, make_user):
    """The control: the session's agent has no WARREN_BATTERIES_DIR."""
    other = make_user("nobattery")
    log = run(harness, other, 'python3 -c "import requests"')
    assert "No module named 'requests'" in log


def test_the_batteries_are_read_only_in_the_sandbox(agent, user):
    log = run(agent, user, "touch /opt/warren/site-packages/planted; echo status=$?")
    assert "Read-only file system" in log and "status=1" in log


def test_a_new_virtualenv_installs_from_the_wheels_directory_offline_and_wins(agent, user):
    log = run(
        agent,
        user,
        "python3 -m venv $HOME/v && $HOME/v/bin/pip install --no-index requests"
        " && $HOME/v/bin/python -c 'import requests, sys; print(requests.__file__);"
        ' print("batteries on path:", any("/opt/warren" in p for p in sys.path))\'',
    )
    assert "Successfully installed" in log and "requests" in log
    assert "/home/battery/v/lib/python3" in log and "site-packages/requests/__init__.py" in log
    assert "batteries on path: False" in log


def test_the_console_tools_are_there(agent, user):
    log = run(
        agent, user, f"for t in {' '.join(CONSOLE_TOOLS)}; do command -v $t || echo no $t; done"
    )
    for tool in CONSOLE_TOOLS:
        assert f"/usr/bin/{tool}" in log, log
