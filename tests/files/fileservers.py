"""A fileserver agent of a test's own, on a fixed free port so it can be stopped and started
again at the same address (what a file server rebooting looks like to Warren)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from execution_agent.harness import free_port, wait_for_port
from tests.agents import REPO


class RestartableFileserver:
    """``python -m fileserver_agent`` (du backend) on the given roots, stoppable and restartable."""

    def __init__(self, *, homes: Path, www: Path, state: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = state
        self.log_path = state / "fileserver.log"
        state.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "WARREN_HOMES_ROOT": str(homes),
            "WARREN_WWW_ROOT": str(www),
            "WARREN_AGENT_BACKEND": "du",
            "WARREN_AGENT_STATE_DIR": str(state / "agent-state"),
            "WARREN_AGENT_SECRETS": settings.WARREN_AGENT_SECRETS[0],
            "WARREN_AGENT_MIN_UID": str(settings.WARREN_UID_BASE),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fileserver_agent",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=log,
                env=self.env,
                cwd=REPO,
            )
        wait_for_port(self.port, timeout=15, process=self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def forget_quotas(self) -> None:
        """Lose the recorded limits, as a crash can (the seed's lost XFS quotas)."""
        for path in (self.state / "agent-state").glob("limits.log*"):
            path.unlink()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, condition, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {timeout} s; agent log:\n{self.log()}")
            time.sleep(0.1)
