"""The production template really serves the agent under uWSGI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from execution_agent.testing.harness import free_port, wait_for_port
from fileserver_agent.client import FileserverClient, FileserverRequestError
from tests.fileserver_agent.conftest import REPO_ROOT, SECRET, agent_environment, new_uid

TEMPLATE = REPO_ROOT / "deploy" / "uwsgi" / "fileserver-agent.ini"
PYTHON3_PLUGIN = Path("/usr/lib/uwsgi/plugins/python3_plugin.so")

pytestmark = pytest.mark.skipif(
    shutil.which("uwsgi") is None or not PYTHON3_PLUGIN.exists(),
    reason="needs uWSGI with the Python 3 plugin: apt-get install uwsgi uwsgi-plugin-python3",
)


@pytest.fixture
def uwsgi_agent(tmp_path):
    config_file = tmp_path / "fileserver-agent.env"
    config_file.write_text(
        "".join(f"{key}={value}\n" for key, value in agent_environment(tmp_path).items())
    )
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "WARREN_AGENT_BIND": f"127.0.0.1:{port}",
        "WARREN_APP_DIR": str(REPO_ROOT),
        "WARREN_VENV": sys.prefix,
        "WARREN_AGENT_CONFIG": str(config_file),
    }
    log = tmp_path / "uwsgi.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["uwsgi", "--ini", str(TEMPLATE)], stdout=output, stderr=subprocess.STDOUT, env=env
        )
    try:
        wait_for_port(port, process=process, log=log, timeout=20)
        yield f"http://127.0.0.1:{port}", process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.root
def test_the_template_serves_signed_requests_and_stops_on_sigterm(uwsgi_agent):
    url, process, log = uwsgi_agent
    uid = new_uid()
    with FileserverClient(url, SECRET) as client:
        assert client.health()["status"] == "ok"
        home = client.create_home(f"uwsgi-{os.getpid()}", uid=uid, gid=uid)
        assert os.stat(home.path).st_uid == uid
        for _ in range(20):  # connections are closed after each answer, never reused stale
            client.get_usage(uid)
        with pytest.raises(FileserverRequestError):
            client.set_quota(uid, soft_bytes=-1, hard_bytes=1)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
    assert "goodbye to uWSGI" in log.read_text()
