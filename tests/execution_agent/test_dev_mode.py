"""Development without root: the agent still serves, runs processes as itself, and says so."""

from __future__ import annotations

import os
import uuid

import pytest

from execution_agent.testing.harness import AgentHarness

pytestmark = pytest.mark.root  # root is needed to become the unprivileged uid


@pytest.fixture
def unprivileged_agent(uid_base):
    def start(**env):
        # The system interpreter: the venv's lives under /root, out of an unprivileged uid's reach.
        harness = AgentHarness(
            uid_base=uid_base,
            cgroup_prefix=f"warren-dev-{uuid.uuid4().hex[:8]}",
            python="/usr/bin/python3",
            run_as=uid_base + 9_100,
            extra_env=env,
        )
        started.append(harness)
        return harness

    started: list[AgentHarness] = []
    yield start
    for harness in started:
        harness.cleanup()


def test_without_root_the_agent_warns_and_runs_processes_as_itself(unprivileged_agent, uid_base):
    harness = unprivileged_agent()
    agent_uid = uid_base + 9_100
    home = harness.homes / "devuser"
    home.mkdir(mode=0o700)
    os.chown(home, agent_uid, agent_uid)  # in development the homes belong to the agent's user
    harness.start()
    client = harness.client()
    info = client.info()
    assert info["root"] is False and info["cgroups"] == "none"
    assert any("not running as root" in warning for warning in info["warnings"])
    assert "WARNING: not running as root" in harness.log()
    user = {"uid": uid_base + 42, "username": "devuser"}
    result = client.run(user=user, argv=["bash", "-c", "id -u; pwd"])
    assert result["stdout"] == f"{agent_uid}\n/home/devuser\n"


def test_production_refuses_to_start_without_root(unprivileged_agent):
    harness = unprivileged_agent(WARREN_ENV="production")
    with pytest.raises(RuntimeError, match="did not start"):
        harness.start(timeout=10)
    assert harness.process.returncode == 2
    assert "WARREN_ENV=production refuses to start" in harness.log()
