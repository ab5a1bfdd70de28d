"""A real Celery worker: quota changes made while the file server is down are retried with
backoff and all land once it is back; refusals are not retried."""

import threading

import pytest
from celery.contrib.testing.app import TestApp, setup_default_app
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, task_retry
from django.db import connections

from accounts.services import custom_limits_set, plan_change, user_provision
from files import tasks
from tests.files.conftest import MIB, hard_limit, plan, with_disk

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def worker_events():
    """A real Celery worker in a thread, on kombu's in-memory transport, running our tasks;
    yields what it retried and finished. One per module: stopping a worker takes seconds."""
    events = {"retried": [], "finished": []}
    lock = threading.Lock()

    def on_retry(sender=None, request=None, **kwargs):
        with lock:
            events["retried"].append((sender.name, request.id))

    def on_postrun(sender=None, task_id=None, state=None, **kwargs):
        with lock:
            events["finished"].append((sender.name, task_id, state))
        connections.close_all()  # this thread's connections: the test database is dropped later

    task_retry.connect(on_retry, weak=False)
    task_postrun.connect(on_postrun, weak=False)
    app = TestApp(config={"task_acks_late": True})
    try:
        with setup_default_app(app), start_worker(app, pool="solo", perform_ping_check=False):
            yield events
    finally:
        task_retry.disconnect(on_retry)
        task_postrun.disconnect(on_postrun)


@pytest.fixture
def worker(worker_events, transactional_db, django_db_serialized_rollback, settings):
    """The module's worker, with committed data it can see and quick backoff."""
    settings.WARREN_FILESERVER_RETRY_BASE_SECONDS = 0.2
    settings.WARREN_FILESERVER_RETRY_MAX_SECONDS = 1.0
    for happened in worker_events.values():
        happened.clear()
    return worker_events


def test_nothing_is_lost_while_the_file_server_is_down(worker, own_fileserver):
    users = [own_fileserver.user_on_it(f"down-{n}") for n in range(3)]
    for user in users:
        user_provision(user=user)  # on commit: home_create on the worker
    own_fileserver.wait_until(
        lambda: all(hard_limit(user) == plan("beginner").disk_bytes for user in users)
    )

    own_fileserver.stop()
    plan_change(user=users[0], plan=plan("hacker"))
    plan_change(user=users[1], plan=plan("web-developer"))
    custom_limits_set(user=users[2], **with_disk(users[2], 777 * MIB))
    own_fileserver.wait_until(lambda: len(worker["retried"]) >= 6)  # each has retried twice
    own_fileserver.start()

    expected = [plan("hacker").disk_bytes, plan("web-developer").disk_bytes, 777 * MIB]
    own_fileserver.wait_until(lambda: [hard_limit(user) for user in users] == expected)
    assert {name for name, _ in worker["retried"]} == {"files.tasks.storage_quota_apply"}


def test_a_refusal_is_not_retried_by_the_worker(worker, own_fileserver):
    bad = own_fileserver.user_on_it("Bad_Name")
    result = tasks.home_create.delay(bad.pk)
    own_fileserver.wait_until(lambda: any(row[1] == result.id for row in worker["finished"]))
    assert next(row for row in worker["finished"] if row[1] == result.id)[2] == "SUCCESS"
    assert not any(task_id == result.id for _, task_id in worker["retried"])
