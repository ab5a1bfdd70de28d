"""With WARREN_METRICS_DIR, what another Django process counted (a Celery worker's quota
applies) is on the web server's page: the processes share the directory, the page adds up."""

import os
import subprocess
import sys

import pytest
import requests

from execution_agent.testing.harness import free_port
from servers.models import Server
from tests.factories import UserFactory
from tests.live import REPO, LiveServer, database_url_for_subprocess
from tests.metrics.scraping import TOKEN, parse, value

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

APPLY = """
import django
django.setup()
from files.tasks import storage_quota_apply
storage_quota_apply.apply(args=[int(__import__("sys").argv[1])])
"""


def another_process(metrics_dir, user_id: int) -> None:
    """A quota apply in a process of its own, as a Celery worker's would be."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "WARREN_METRICS_DIR": str(metrics_dir),
    }
    result = subprocess.run(
        [sys.executable, "-c", APPLY, str(user_id)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_counts_of_other_processes_are_added_up(tmp_path):
    metrics_dir = tmp_path / "metrics"
    # Nothing listens there: every apply fails as unreachable.
    down = Server.objects.create(
        kind=Server.Kind.FILE,
        hostname="fs-down",
        fileserver_agent_url=f"http://127.0.0.1:{free_port()}",
    )
    user = UserFactory(username="faraway", file_server=down)
    web = LiveServer(
        tmp_path, extra_env={"WARREN_METRICS_TOKEN": TOKEN, "WARREN_METRICS_DIR": str(metrics_dir)}
    )
    try:

        def scrape():
            response = requests.get(
                f"{web.url}/metrics/", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            )
            assert response.status_code == 200, web.log()
            return parse(response.text)

        before = value(scrape(), "warren_quota_apply_failures_total", reason="unreachable")
        another_process(metrics_dir, user.pk)
        another_process(metrics_dir, user.pk)
        after = scrape()
        assert value(after, "warren_quota_apply_failures_total", reason="unreachable") == before + 2
        # The web server's own counts are there too, beside the others'.
        assert (
            value(
                after,
                "warren_http_requests_total",
                view="metrics:metrics",
                method="GET",
                status=200,
            )
            >= 1
        )
    finally:
        web.stop()
