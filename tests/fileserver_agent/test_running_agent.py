"""The agent as deployed: ``python -m fileserver_agent`` in its own process, over real HTTP,
driven through the client the Django side uses."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import requests

from execution_agent.testing.harness import free_port
from fileserver_agent import client as fileserver_client
from fileserver_agent.client import (
    FileserverAuthError,
    FileserverClient,
    FileserverRequestError,
    FileserverServerError,
    FileserverUnreachable,
    QuotaLimits,
)
from fileserver_agent.signing import signature_headers
from fileserver_agent.testing import AgentProcess
from tests.fileserver_agent.conftest import (
    OLD_SECRET,
    REPO_ROOT,
    SECRET,
    agent_environment,
    new_uid,
    new_username,
)
from tests.fileserver_agent.quota_tools import FakeQuotaTools, sample

MIB = 1024 * 1024


@pytest.fixture
def client(running_agent):
    with FileserverClient(running_agent.base_url, SECRET, timeout=10) as client:
        yield client


def homes_root(running_agent) -> Path:
    return Path(running_agent.env["WARREN_HOMES_ROOT"])


def test_health_answers_ok_with_the_backend(client, running_agent):
    report = client.health()
    assert report["status"] == "ok"
    assert report["backend"] == "du"
    assert report["homes_root"] == running_agent.env["WARREN_HOMES_ROOT"]


@pytest.mark.root
def test_create_home_makes_an_owned_home_and_is_idempotent(client, running_agent):
    username, uid = new_username("http"), new_uid()
    home = client.create_home(username, uid=uid, gid=uid)
    assert home.created
    assert home.path == str(homes_root(running_agent) / username)
    st = os.stat(home.path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (uid, uid, 0o700)
    assert "Welcome to Warren" in Path(home.path, "README.txt").read_text()
    again = client.create_home(username, uid=uid, gid=uid)
    assert not again.created and again.path == home.path


def test_quota_then_usage_round_trip(client):
    uid = new_uid()
    applied = client.set_quota(uid, soft_bytes=512 * MIB, hard_bytes=600 * MIB)
    assert applied == QuotaLimits(uid, 512 * MIB, 600 * MIB)
    usage = client.get_usage(uid)
    assert (usage.soft_bytes, usage.hard_bytes, usage.backend) == (512 * MIB, 600 * MIB, "du")


def test_a_batch_sets_every_quota(client):
    quotas = [QuotaLimits(new_uid(), MIB, 2 * MIB) for _ in range(200)]
    assert client.set_quotas(quotas) == 200
    assert client.get_usage(quotas[123].uid).hard_bytes == 2 * MIB


@pytest.mark.root
def test_usage_follows_files_written_into_the_home(client):
    username, uid = new_username("usage"), new_uid()
    home = Path(client.create_home(username, uid=uid, gid=uid).path)
    start = client.get_usage(uid).used_bytes
    (home / "upload.bin").write_bytes(os.urandom(4 * MIB))
    (home / "project" / "src").mkdir(parents=True)
    (home / "project" / "src" / "main.py").write_bytes(os.urandom(MIB))
    grown = client.get_usage(uid).used_bytes
    assert grown - start >= 5 * MIB
    (home / "upload.bin").unlink()
    assert client.get_usage(uid).used_bytes <= grown - 4 * MIB


def test_the_same_request_twice_in_one_second_is_not_mistaken_for_a_replay(client):
    uid = new_uid()
    results = {client.get_usage(uid) for _ in range(5)}  # would raise FileserverAuthError
    assert len(results) == 1


def test_the_same_request_many_times_a_second_never_waits_for_the_clock(client, monkeypatch):
    # Each repeat gets its own millisecond; with whole seconds, the client had to sleep once
    # it was the skew margin ahead of the clock (a dashboard reloaded quickly took 1 s each).
    clock = types.SimpleNamespace(time=time.time, sleep=lambda seconds: pytest.fail("slept"))
    monkeypatch.setattr(fileserver_client, "time", clock)
    uid = new_uid()
    for _ in range(100):
        client.get_usage(uid)
    stamps = [client._unique_timestamp("GET", "/v1/usage/1", b"") for _ in range(5000)]
    assert len(set(stamps)) == len(stamps)


def test_two_clients_sending_the_same_request_both_succeed(running_agent, monkeypatch):
    # Two processes' clients, one clock reading: the same bytes, the same timestamp, so the
    # same signature. The agent refuses the second as a replay and its client signs again.
    now = time.time()
    monkeypatch.setattr(fileserver_client, "time", types.SimpleNamespace(time=lambda: now))
    uid = new_uid()
    with (
        FileserverClient(running_agent.base_url, SECRET) as first,
        FileserverClient(running_agent.base_url, SECRET) as second,
    ):
        first.get_usage(uid)
        signed = []
        stamp = second._unique_timestamp
        monkeypatch.setattr(second, "_unique_timestamp", lambda *a: signed.append(1) or stamp(*a))
        second.get_usage(uid)  # same bytes, same moment: the client re-signs on "replayed"
    assert len(signed) == 2


def test_bad_input_raises_a_request_error_with_the_agents_reason(client):
    with pytest.raises(FileserverRequestError) as caught:
        client.set_quota(new_uid(), soft_bytes=10, hard_bytes=5)
    assert caught.value.status == 400
    assert caught.value.detail == "soft_bytes (10) is above hard_bytes (5)"


def test_a_bad_username_raises_a_request_error(client):
    with pytest.raises(FileserverRequestError) as caught:
        client.create_home("Not-Valid", uid=new_uid(), gid=new_uid())
    assert "username must be" in caught.value.detail


def test_a_wrong_secret_raises_an_auth_error(running_agent):
    with (
        FileserverClient(running_agent.base_url, "a-secret-the-agent-never-had") as client,
        pytest.raises(FileserverAuthError) as caught,
    ):
        client.health()
    assert caught.value.code == "bad_signature"


def raw_get(running_agent, path, headers):
    return requests.get(running_agent.base_url + path, headers=headers, timeout=10)


def test_over_http_a_replayed_signature_is_refused(running_agent):
    path = f"/v1/usage/{new_uid()}"  # a request no other test sends in the same second
    headers = signature_headers(SECRET, "GET", path, b"")
    assert raw_get(running_agent, path, headers).status_code == 200
    response = raw_get(running_agent, path, headers)
    assert response.status_code == 401
    assert response.json()["error"] == "replayed_signature"


def test_over_http_a_stale_signature_is_refused(running_agent):
    headers = signature_headers(SECRET, "GET", "/v1/health", b"", timestamp=int(time.time()) - 90)
    response = raw_get(running_agent, "/v1/health", headers)
    assert response.status_code == 401
    assert response.json()["error"] == "stale_timestamp"


def test_over_http_a_tampered_body_is_refused(running_agent):
    uid = new_uid()
    body = b'{"soft_bytes":1,"hard_bytes":2}'
    headers = signature_headers(SECRET, "PUT", f"/v1/quotas/{uid}", body)
    response = requests.put(
        f"{running_agent.base_url}/v1/quotas/{uid}",
        data=b'{"soft_bytes":1,"hard_bytes":999999999}',
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"


def test_over_http_an_unsigned_request_is_refused(running_agent):
    response = requests.get(running_agent.base_url + "/v1/health", timeout=10)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"


def test_an_agent_that_is_not_running_raises_unreachable():
    with (
        FileserverClient(f"http://127.0.0.1:{free_port()}", SECRET, timeout=2) as client,
        pytest.raises(FileserverUnreachable),
    ):
        client.health()


def test_an_agent_that_does_not_answer_in_time_raises_unreachable():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with (
            FileserverClient(f"http://127.0.0.1:{port}", SECRET, timeout=0.5) as client,
            pytest.raises(FileserverUnreachable),
        ):
            client.health()


def test_secret_rotation_with_a_running_agent(tmp_path):
    env = agent_environment(tmp_path, WARREN_AGENT_SECRETS=f"{SECRET},{OLD_SECRET}")
    agent = AgentProcess(env, tmp_path / "logs").start()
    try:
        for secret in (OLD_SECRET, SECRET):
            with FileserverClient(agent.base_url, secret) as client:
                assert client.health()["status"] == "ok"
    finally:
        agent.stop()


def test_an_ext4_agent_relays_the_tools_failure_as_a_server_error(tmp_path):
    tools = FakeQuotaTools(tmp_path / "tools")
    tools.respond("setquota", stderr=sample("setquota_no_quota_enabled.stderr"), status=1)
    env = agent_environment(
        tmp_path,
        WARREN_AGENT_BACKEND="ext4",
        WARREN_QUOTA_FILESYSTEM=str(tmp_path),
        WARREN_QUOTA_TOOLS_PATH=str(tools.directory),
    )
    agent = AgentProcess(env, tmp_path / "logs").start()
    try:
        with (
            FileserverClient(agent.base_url, SECRET) as client,
            pytest.raises(FileserverServerError) as caught,
        ):
            client.set_quota(1000001, soft_bytes=MIB, hard_bytes=2 * MIB)
        assert caught.value.status == 502
        assert "no quota enabled" in caught.value.body["stderr"]
        assert "Traceback" not in agent.log()
    finally:
        agent.stop()


def test_a_configuration_error_stops_start_up_naming_the_variable(tmp_path):
    env = agent_environment(tmp_path, WARREN_AGENT_BACKEND="zfs")
    result = subprocess.run(
        [sys.executable, "-m", "fileserver_agent", "--port", "0"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    assert "WARREN_AGENT_BACKEND='zfs': must be one of du, ext4" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_agent_stops_cleanly_on_sigterm(tmp_path):
    agent = AgentProcess(agent_environment(tmp_path), tmp_path / "logs").start()
    agent.stop()
    assert agent.process.returncode == 0


def test_a_config_file_given_with_config_is_used(tmp_path):
    config_file = tmp_path / "fileserver-agent.env"
    settings = agent_environment(tmp_path, WARREN_AGENT_MIN_UID="5000")
    config_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    agent = AgentProcess({}, tmp_path / "logs", args=("--config", str(config_file))).start()
    try:
        with FileserverClient(agent.base_url, SECRET) as client:
            assert client.health()["homes_root"] == settings["WARREN_HOMES_ROOT"]
            with pytest.raises(FileserverRequestError) as caught:
                client.get_usage(4999)
        assert "below the agent's minimum of 5000" in caught.value.detail
    finally:
        agent.stop()


def test_a_batch_can_be_given_a_longer_timeout(client):
    quotas = [QuotaLimits(new_uid(), MIB, 2 * MIB) for _ in range(3)]
    assert client.set_quotas(quotas, timeout=120) == 3
