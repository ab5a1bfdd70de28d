"""bin/run's checks and clean-up, run for real from bin/lib/common.sh."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

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
