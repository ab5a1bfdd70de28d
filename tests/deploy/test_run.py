"""bin/run's checks and clean-up, run for real from bin/lib/common.sh."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from execution_agent.testing.harness import AgentHarness, random_uid_base

REPO = Path(__file__).resolve().parents[2]
COMMON = REPO / "bin" / "lib" / "common.sh"
ROOT = os.geteuid() == 0


def bash(script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; source "{COMMON}"; {script}'],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", **env},
    )


@pytest.fixture
def checkout():
    """A checkout with manage.py and a venv's python, which tests open or close to others.

    Not pytest's tmp_path: its parent is 0700, which no other user may traverse.
    """
    base = Path(tempfile.mkdtemp(prefix="warren-run-", dir="/tmp"))
    os.chmod(base, 0o755)  # noqa: S103 - the service user must traverse it
    root = base / "warren"
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / "manage.py").write_text("")
    python = root / ".venv" / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    os.chmod(python, 0o755)  # noqa: S103
    for path in (root, root / ".venv", root / ".venv" / "bin"):
        os.chmod(path, 0o755)  # noqa: S103
    os.chmod(root / "manage.py", 0o644)
    yield root
    shutil.rmtree(base)


@pytest.mark.skipif(not ROOT, reason="runuser needs root")
def test_run_goes_on_when_the_service_user_can_read_the_checkout(checkout):
    result = bash(f'require_service_user_access nobody "{checkout}" "{checkout}/.venv"; echo ok')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


@pytest.mark.skipif(not ROOT, reason="runuser needs root")
def test_run_refuses_with_the_fix_when_the_service_user_cannot_read_the_checkout(checkout):
    """It used to warn and run Django as root (as under /root, mode 0700)."""
    os.chmod(checkout, 0o700)
    result = bash(f'require_service_user_access nobody "{checkout}" "{checkout}/.venv"; echo ran')
    assert result.returncode != 0
    assert "ran" not in result.stdout
    assert "'nobody' user cannot read" in result.stderr
    assert "Django must not run" in result.stderr and "/opt/warren" in result.stderr


@pytest.mark.skipif(not ROOT, reason="setpriv needs root")
def test_run_refuses_homes_that_users_cannot_traverse(checkout):
    """The embedded default keeps homes under var/: a checkout under /root (0700) would give
    every console 'Permission denied' from bubblewrap instead of a clear message at start."""
    homes = checkout / "var" / "homes"
    homes.mkdir(parents=True)
    os.chmod(checkout / "var", 0o755)  # noqa: S103
    os.chmod(homes, 0o755)  # noqa: S103
    assert bash(f'require_users_can_traverse 1000000 "{homes}"').returncode == 0
    os.chmod(checkout, 0o700)
    refused = bash(f'require_users_can_traverse 1000000 "{homes}"; echo ran')
    assert refused.returncode != 0 and "ran" not in refused.stdout
    assert f"users cannot reach {homes}" in refused.stderr
    assert "WARREN_HOMES_ROOT" in refused.stderr


def nft_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


@pytest.fixture
def stopped_agent():
    """A real agent that ran a user's process (firewall table, cgroup, /tmp mount), then was
    stopped the way honcho stops it on Ctrl-C: what it installed is still there."""
    harness = AgentHarness(
        uid_base=random_uid_base(),
        cgroup_prefix=f"warren-test-{uuid.uuid4().hex[:10]}",
    )
    try:
        harness.start()
        user = harness.user(1, "carol")
        pid = harness.client().spawn(user=user, argv=["sleep", "600"])["pid"]
        harness.stop()
        yield harness, pid
    finally:
        harness.cleanup()


def installed(harness) -> dict[str, bool]:
    mountinfo = Path("/proc/self/mountinfo").read_text()
    return {
        "table": f"table inet {harness.nft_table}\n" in nft_tables(),
        "cgroup": Path(f"/sys/fs/cgroup/pids/{harness.cgroup_prefix}").exists(),
        "mount": f" {harness.run_dir}/tmp/" in mountinfo,
    }


@pytest.mark.skipif(not ROOT or shutil.which("nft") is None, reason="needs root and nftables")
def test_stopping_run_removes_the_table_cgroups_mounts_and_users_processes(stopped_agent):
    """Ctrl-C on ./bin/run left the warren_sandbox table (and users' consoles) behind."""
    harness, pid = stopped_agent
    assert installed(harness) == {"table": True, "cgroup": True, "mount": True}
    result = subprocess.run(
        [sys.executable, "-m", "execution_agent.teardown"],
        env=harness.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "user processes ended" in result.stdout
    assert installed(harness) == {"table": False, "cgroup": False, "mount": False}
    assert not Path(f"/proc/{pid}").exists()


@pytest.mark.skipif(not ROOT or shutil.which("nft") is None, reason="needs root and nftables")
def test_reset_asks_then_wipes_the_embedded_data(stopped_agent):
    harness, _ = stopped_agent
    var = harness.base  # homes, www, run: the embedded default's var/ in miniature
    env = {**harness.env(), "PYTHONPATH": str(REPO)}
    kept = subprocess.run(
        ["bash", "-c", f'source "{COMMON}"; reset_embedded_data "{var}" ""'],
        input="no\n",
        capture_output=True,
        text=True,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin:/usr/sbin:/sbin", **env},
        timeout=60,
    )
    assert kept.returncode != 0 and "nothing deleted" in kept.stderr
    assert (var / "homes" / "carol").is_dir()
    wiped = subprocess.run(
        ["bash", "-c", f'source "{COMMON}"; reset_embedded_data "{var}" 1'],
        capture_output=True,
        text=True,
        env={**env, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin:/usr/sbin:/sbin"},
        timeout=60,
    )
    assert wiped.returncode == 0, wiped.stderr
    assert not var.exists()
    assert not installed(harness)["table"]
