"""A fileserver agent of a test's own, on a fixed free port so it can be stopped and started
again at the same address (what a file server rebooting looks like to Warren)."""

import time
from pathlib import Path

from django.conf import settings

from execution_agent.testing.harness import free_port
from fileserver_agent.testing import AgentProcess, du_agent_environment


class RestartableFileserver(AgentProcess):
    """A du-backend agent on the given roots, on a fixed port: stoppable and restartable."""

    def __init__(self, *, homes: Path, www: Path, state: Path) -> None:
        env = du_agent_environment(
            homes=homes,
            www=www,
            state=state / "agent-state",
            secret=settings.WARREN_AGENT_SECRETS[0],
            min_uid=settings.WARREN_UID_BASE,
        )
        super().__init__(env, state, port=free_port())
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = state

    def forget_quotas(self) -> None:
        """Lose the recorded limits, as a crash can (the seed's lost XFS quotas)."""
        for path in (self.state / "agent-state").glob("limits.log*"):
            path.unlink()

    def wait_until(self, condition, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {timeout} s; agent log:\n{self.log()}")
            time.sleep(0.1)
