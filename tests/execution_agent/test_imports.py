"""The root daemons never load their test scaffolding: it lives in `testing` modules only
tests, benchmarks and dev setups import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Every module a daemon starts from (python -m ..., uWSGI's module =, bin/run's teardown).
ENTRY_POINTS = [
    "execution_agent.__main__",
    "execution_agent.web.run",
    "execution_agent.teardown",
    "fileserver_agent.__main__",
    "fileserver_agent.app",
    "ssh_gateway.sshd",
    "ssh_gateway.keys",
    "ssh_gateway.session",
]
SCAFFOLDING = ("execution_agent.testing", "fileserver_agent.testing")

LOADED = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by(entry_point: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADED, entry_point],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_a_daemon_entry_point_imports_no_test_scaffolding(entry_point):
    loaded = modules_loaded_by(entry_point)
    assert entry_point in loaded
    assert [name for name in loaded if name.startswith(SCAFFOLDING)] == []
