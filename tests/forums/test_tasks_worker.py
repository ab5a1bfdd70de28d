"""A real Celery worker: while Akismet is unreachable a post's check is retried with backoff
(the post stays pending, never published unchecked) and lands once Akismet answers."""

import threading
import time

import pytest
from celery.contrib.testing.app import TestApp, setup_default_app
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, task_retry
from django.db import connections

from forums import services, tasks  # noqa: F401 - the worker must know the tasks
from forums.models import Post, Status


@pytest.fixture(scope="module")
def worker_events():
    """A real Celery worker in a thread on kombu's in-memory transport (as tests/files')."""
    events = {"retried": [], "finished": []}
    lock = threading.Lock()

    def on_retry(sender=None, request=None, **kwargs):
        with lock:
            events["retried"].append((sender.name, request.id))

    def on_postrun(sender=None, task_id=None, state=None, **kwargs):
        with lock:
            events["finished"].append((sender.name, task_id, state))
        connections.close_all()

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
    settings.WARREN_AKISMET_RETRY_MAX_SECONDS = 0.3
    for happened in worker_events.values():
        happened.clear()
    return worker_events


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_check_is_retried_while_akismet_is_down_and_lands_when_it_is_back(
    worker, veteran, category, akismet_answers
):
    akismet_answers("unreachable")
    topic = services.topic_create(
        author=veteran, category=category, title="t", body="b", ip="192.0.2.1", user_agent="x"
    )
    post = topic.posts.get()
    wait_until(lambda: len(worker["retried"]) >= 2)
    post.refresh_from_db()
    assert post.status == Status.PENDING and post.check_attempts >= 2

    akismet_answers("ham")
    wait_until(lambda: Post.objects.get(pk=post.pk).status == Status.PUBLISHED)
    assert {name for name, _ in worker["retried"]} == {"forums.tasks.post_check"}
