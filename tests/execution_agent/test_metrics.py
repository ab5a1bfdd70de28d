"""The agent's metrics port: ops counted by name and outcome, timed, apart from the socket."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from execution_agent.client import AgentError
from execution_agent.config import ConfigError, load_config
from execution_agent.testing.harness import AgentHarness, free_port, random_uid_base
from tests.metrics.scraping import parse, value

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def metered():
    port = free_port()
    agent = AgentHarness(
        uid_base=random_uid_base(),
        cgroup_prefix=f"warren-test-ops-metrics-{uuid.uuid4().hex[:8]}",
        # As deploy/systemd runs it: the system Python, Debian's prometheus_client.
        python="/usr/bin/python3",
        extra_env={"WARREN_EXEC_METRICS_ADDRESS": f"127.0.0.1:{port}"},
    )
    with agent.running():
        agent.metrics_url = f"http://127.0.0.1:{port}/metrics"
        yield agent


def scrape(agent) -> dict:
    response = requests.get(agent.metrics_url, timeout=5)
    assert response.status_code == 200
    return parse(response.text)


def test_ops_are_counted_and_timed(metered):
    before = scrape(metered)
    client = metered.client()
    client.info()
    client.info()
    with pytest.raises(AgentError):
        client.call("no_such_op")
    with pytest.raises(AgentError):
        client.processes(user={"uid": 1, "username": "root"})  # below the uid base

    # The agent counts an op once its answer is sent: the client may read the answer and
    # scrape before the handler thread has counted it, as happened once in CI.
    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    deadline = time.monotonic() + 10
    while True:
        after = scrape(metered)
        done = (
            moved("warren_exec_agent_op_seconds_count", op="info") >= 2
            and moved("warren_exec_agent_op_seconds_count", op="unknown") >= 1
        ) and any(
            name == "warren_exec_agent_ops_total" and ("op", "processes") in labels
            for (name, labels) in after
        )
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert moved("warren_exec_agent_ops_total", op="info", outcome="ok") == 2
    assert moved("warren_exec_agent_ops_total", op="unknown", outcome="unknown_op") == 1
    refused = [
        dict(labels)["outcome"]
        for (name, labels) in after
        if name == "warren_exec_agent_ops_total" and ("op", "processes") in labels
    ]
    assert refused and "ok" not in refused
    assert moved("warren_exec_agent_op_seconds_count", op="info") == 2
    assert moved("warren_exec_agent_op_seconds_sum", op="info") > 0


@pytest.mark.parametrize("address", ["localhost:1", "127.0.0.1", "127.0.0.1:70000", "::1:80"])
def test_a_malformed_metrics_address_is_refused(address):
    with pytest.raises(ConfigError, match="WARREN_EXEC_METRICS_ADDRESS"):
        load_config({"WARREN_EXEC_METRICS_ADDRESS": address, "WARREN_EXEC_AGENT_GROUP": "0"})


def test_a_bracketed_ipv6_address_is_accepted():
    config = load_config(
        {"WARREN_EXEC_METRICS_ADDRESS": "[::1]:9702", "WARREN_EXEC_AGENT_GROUP": "0"}
    )
    assert config.metrics_address == "[::1]:9702"
