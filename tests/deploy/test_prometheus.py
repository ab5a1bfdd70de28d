"""deploy/prometheus/: the example configuration and alert rules, checked by Prometheus's own
tools, and a real Prometheus scraping a real Warren web role and fileserver agent with it."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import requests
import yaml

from execution_agent.testing.harness import free_port, wait_for_port
from fileserver_agent.client import FileserverClient
from fileserver_agent.testing import AgentProcess
from tests.fileserver_agent.conftest import SECRET, agent_environment, new_uid
from tests.live import LiveServer
from tests.metrics.scraping import TOKEN

from .conftest import REPO_ROOT

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "warren-alerts.yml"

pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("prometheus") is None,
    reason="needs Prometheus: apt-get install prometheus",
)


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=60, cwd=PROMETHEUS_DIR
    )


def test_every_alert_fires_when_it_should_and_not_before():
    result = promtool("test", "rules", "warren-alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_of_the_seeds_incidents_is_there():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    assert {
        "WarrenQuotaQueueBacklog",
        "WarrenUsersOverHardQuota",
        "WarrenFileserverAgentDown",
    } <= alerts


def local_config(tmp_path, *, web: str, fileserver: str) -> str:
    """The example configuration with this test's targets, token file and a 1 s interval."""
    config = yaml.safe_load(CONFIG.read_text())
    token_file = tmp_path / "warren-metrics-token"
    token_file.write_text(TOKEN + "\n")
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(RULES)]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["warren-web"]["authorization"]["credentials_file"] = str(token_file)
    jobs["warren-web"]["static_configs"] = [{"targets": [web]}]
    jobs["warren-fileserver"]["static_configs"] = [{"targets": [fileserver]}]
    del jobs["warren-exec-agent"]
    # The same page without the token: Prometheus must see it refused.
    outsider = {k: v for k, v in jobs["warren-web"].items() if k != "authorization"}
    config["scrape_configs"] = [*jobs.values(), {**outsider, "job_name": "no-token"}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_the_example_configuration_is_valid(tmp_path):
    path = local_config(tmp_path, web="127.0.0.1:1", fileserver="127.0.0.1:2")
    result = promtool("check", "config", path)
    assert result.returncode == 0, result.stdout + result.stderr


class Prometheus:
    def __init__(self, config: str, tmp_path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "prometheus.log"
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, process=self.process, log=self.log, timeout=30)
        # It listens before it has loaded its storage: queries answer 503 until it is ready.
        deadline = time.monotonic() + 30
        while requests.get(f"{self.url}/-/ready", timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus never got ready:\n{self.log.read_text()}")
            time.sleep(0.2)

    def query(self, expression: str) -> dict[str, float]:
        """{job: value} of an instant query."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=5)
        result = response.json()["data"]["result"]
        return {sample["metric"].get("job", ""): float(sample["value"][1]) for sample in result}

    def wait_for(self, expression: str, expected: dict, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (got := self.query(expression)) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{expression}: {got} != {expected}\n{self.log.read_text()}")
            time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_prometheus_scrapes_warren_and_sees_a_file_server_go_down(tmp_path):
    metrics_port = free_port()
    fileserver = AgentProcess(
        agent_environment(tmp_path, WARREN_AGENT_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}"),
        tmp_path / "logs",
    ).start()
    web = LiveServer(tmp_path, extra_env={"WARREN_METRICS_TOKEN": TOKEN})
    prometheus = None
    try:
        config = local_config(
            tmp_path, web=f"127.0.0.1:{web.port}", fileserver=f"127.0.0.1:{metrics_port}"
        )
        prometheus = Prometheus(config, tmp_path)
        prometheus.wait_for("up", {"warren-web": 1.0, "warren-fileserver": 1.0, "no-token": 0.0})
        FileserverClient(fileserver.base_url, SECRET).set_quota(
            new_uid(), soft_bytes=1, hard_bytes=2
        )
        prometheus.wait_for(
            'warren_fileserver_quota_applies_total{outcome="applied"}',
            {"warren-fileserver": 1.0},
        )
        # Warren's own series come through the token: its scrapes are counted by view. A scrape
        # is counted once answered, so the series shows from the second scrape on.
        prometheus.wait_for(
            'count(warren_http_requests_total{view="metrics:metrics"}) > bool 0', {"": 1.0}
        )
        fileserver.stop()
        prometheus.wait_for('up{job="warren-fileserver"}', {"warren-fileserver": 0.0})
        # The rule's "for" (2 m) is promtool's to check; here it has started counting.
        prometheus.wait_for(
            'ALERTS{alertname="WarrenFileserverAgentDown"}', {"warren-fileserver": 1.0}
        )
    finally:
        if prometheus is not None:
            prometheus.stop()
        web.stop()
        fileserver.stop()
