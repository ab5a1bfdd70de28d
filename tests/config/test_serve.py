"""config.serve's supervisor: dead workers are replaced, a crash loop backs off."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from config.serve import BACKOFF_MAX, replacement_delay
from execution_agent.testing.harness import free_port

REPO = Path(__file__).resolve().parents[2]


def test_the_delay_doubles_from_the_second_quick_death_up_to_a_ceiling():
    assert [replacement_delay(n) for n in range(1, 6)] == [0.0, 0.5, 1.0, 2.0, 4.0]
    assert replacement_delay(40) == BACKOFF_MAX


@pytest.fixture
def serve(tmp_path):
    """Start ``python -m config.serve`` on an app; yields (port, log reader); stops it after."""
    started = []

    def start(app: str) -> tuple[int, callable]:
        port = free_port()
        log = tmp_path / "serve.log"
        options = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        options += ["--lifespan", "off", "--log-level", "warning"]
        with log.open("w") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "config.serve", *options, app],
                cwd=REPO,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return port, log.read_text

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def wait_for(condition, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return result


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.read() == b"ok"
    except OSError:
        return False


def test_a_worker_that_keeps_dying_young_is_replaced_after_a_growing_delay(serve):
    _, log = serve("tests.config.serve_apps:missing")  # fails as it loads, every time
    delays = wait_for(
        lambda: len(found := re.findall(r"replaced in (\d+\.\d) s", log())) >= 4 and found
    )
    assert [float(delay) for delay in delays[:4]] == [0.0, 0.5, 1.0, 2.0], log()


def test_a_worker_that_served_and_died_is_replaced_at_once(serve):
    port, log = serve("tests.config.serve_apps:ok")
    wait_for(lambda: answers(port))
    (worker,) = wait_for(lambda: worker_pids(port))
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: worker_pids(port) and worker not in worker_pids(port))
    assert wait_for(lambda: answers(port))
    assert "replaced in 0.0 s" in log(), log()


def worker_pids(port: int) -> list[int]:
    """The supervisor's spawned workers: multiprocessing's spawn children of config.serve."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if b"multiprocessing.spawn" in cmdline and b"spawn_main" in cmdline:
            parent = int(re.search(r"PPid:\s+(\d+)", status)[1])
            try:
                parent_cmdline = Path(f"/proc/{parent}/cmdline").read_bytes()
            except OSError:
                continue
            if b"config.serve" in parent_cmdline and str(port).encode() in parent_cmdline:
                pids.append(int(proc.name))
    return pids
