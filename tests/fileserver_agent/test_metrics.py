"""The agent's metrics port: unsigned, separate from the API, and counting what the API did."""

from __future__ import annotations

import os

import pytest
import requests

from execution_agent.testing.harness import free_port
from fileserver_agent import create_app
from fileserver_agent.client import FileserverClient, FileserverRequestError
from fileserver_agent.config import ConfigError
from fileserver_agent.testing import AgentProcess
from tests.fileserver_agent.conftest import SECRET, agent_environment, new_uid, new_username
from tests.metrics.scraping import parse, value


@pytest.fixture
def metered_agent(tmp_path):
    """A real agent process with its metrics on a port of their own."""
    port = free_port()
    env = agent_environment(tmp_path, WARREN_AGENT_METRICS_ADDRESS=f"127.0.0.1:{port}")
    agent = AgentProcess(env, tmp_path / "logs").start()
    agent.metrics_url = f"http://127.0.0.1:{port}/metrics"
    agent.homes = tmp_path / "homes"
    yield agent
    agent.stop()


def scrape(agent) -> dict:
    response = requests.get(agent.metrics_url, timeout=5)
    assert response.status_code == 200
    return parse(response.text)


def test_quota_applies_are_counted_by_outcome(metered_agent):
    client = FileserverClient(metered_agent.base_url, SECRET)
    applies = "warren_fileserver_quota_applies_total"
    before = scrape(metered_agent)
    client.set_quota(new_uid(), soft_bytes=10, hard_bytes=20)
    client.set_quotas([])
    with pytest.raises(FileserverRequestError):
        client.set_quota(new_uid(), soft_bytes=30, hard_bytes=20)  # soft above hard
    after = scrape(metered_agent)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(applies, kind="one", outcome="applied") == 1
    assert moved(applies, kind="batch", outcome="applied") == 1
    assert moved(applies, kind="one", outcome="refused") == 1
    assert moved("warren_fileserver_quotas_applied_total") == 1
    requests_total = "warren_fileserver_requests_total"
    assert moved(requests_total, endpoint="quotas.set_quota", method="PUT", status=200) == 1
    assert moved(requests_total, endpoint="quotas.set_quota", method="PUT", status=400) == 1


def test_users_over_quota_as_last_measured(metered_agent):
    client = FileserverClient(metered_agent.base_url, SECRET)
    uid = new_uid()
    username = new_username()
    client.create_home(username, uid=uid, gid=uid)
    client.set_quota(uid, soft_bytes=64 * 1024, hard_bytes=1024 * 1024)
    assert value(scrape(metered_agent), "warren_fileserver_users_over_quota", limit="soft") == 0
    big = metered_agent.homes / username / "big.bin"
    big.write_bytes(b"x" * 256 * 1024)
    os.chown(big, uid, uid)
    # The du backend rescans on its own period; a fresh agent has not measured this home yet.
    assert client.get_usage(uid).used_bytes > 64 * 1024
    samples = scrape(metered_agent)
    assert value(samples, "warren_fileserver_users_over_quota", limit="soft") == 1
    assert value(samples, "warren_fileserver_users_over_quota", limit="hard") == 0
    client.set_quota(uid, soft_bytes=0, hard_bytes=0)  # no limit any more
    client.get_usage(uid)
    assert value(scrape(metered_agent), "warren_fileserver_users_over_quota", limit="soft") == 0


def test_the_api_port_does_not_serve_metrics_to_the_unsigned(metered_agent):
    response = requests.get(metered_agent.base_url + "/metrics", timeout=5)
    assert response.status_code == 401
    assert "warren_fileserver" not in response.text


def test_without_a_metrics_address_there_is_no_metrics_port(tmp_path):
    app = create_app(agent_environment(tmp_path))
    assert app.extensions["warren_config"].metrics_address == ""


@pytest.mark.parametrize("address", ["localhost:9701", "127.0.0.1", "127.0.0.1:99999", "::1:9"])
def test_a_malformed_metrics_address_stops_start_up(tmp_path, address):
    with pytest.raises(ConfigError, match="WARREN_AGENT_METRICS_ADDRESS"):
        create_app(agent_environment(tmp_path, WARREN_AGENT_METRICS_ADDRESS=address))
