"""Homes at signup, quotas on every limit change and every night, retried until they land."""

import pytest

from accounts.services import custom_limits_set, plan_change
from config.locks import cache_lock
from files import tasks
from files.fileserver import client_for_user
from servers.models import Server
from tests.factories import UserFactory
from tests.files.conftest import MIB, hard_limit, plan, with_disk

pytestmark = pytest.mark.root


# --- eager (the test settings): the hooks call the real agent at once ---------------------


@pytest.mark.django_db
def test_signup_creates_the_home_and_applies_the_plans_quota(alice, home, www):
    assert home.stat().st_uid == alice.uid and (home / "README.txt").exists()
    assert www.is_dir() and www.stat().st_uid == alice.uid
    assert hard_limit(alice) == plan("beginner").disk_bytes


@pytest.mark.django_db
def test_a_plan_change_applies_the_new_quota_on_commit(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        plan_change(user=alice, plan=plan("hacker"))
        assert hard_limit(alice) == plan("beginner").disk_bytes  # not before the commit
    assert hard_limit(alice) == plan("hacker").disk_bytes
    with django_capture_on_commit_callbacks(execute=True):
        custom_limits_set(user=alice, **with_disk(alice, 123 * MIB))
    assert client_for_user(alice).get_usage(alice.uid).soft_bytes == 123 * MIB


@pytest.mark.django_db
def test_a_refusal_from_the_agent_is_logged_not_retried(local_servers, caplog):
    # A username the agent rejects (the form would never allow it): a 4xx, not a retry.
    bad = UserFactory(username="Bad_Name", file_server=Server.objects.get(kind="file"))
    result = tasks.home_create.apply(args=[bad.pk])
    assert result.successful()
    assert "refused by the file server, not retried" in caplog.text


@pytest.mark.django_db
def test_a_deleted_user_is_nothing_to_do():
    assert tasks.storage_quota_apply.apply(args=[10**9]).successful()


# --- the nightly batch ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_nightly_batch_restores_lost_quotas_in_one_call(own_fileserver):
    users = [own_fileserver.user_on_it(f"night-{n}") for n in range(3)]
    custom_limits_set(user=users[2], **with_disk(users[2], 42 * MIB))
    for user in users:
        tasks.home_create.apply(args=[user.pk])
    own_fileserver.stop()
    own_fileserver.forget_quotas()
    own_fileserver.start()
    assert {hard_limit(user) for user in users} == {0}

    assert tasks.storage_quotas_reapply.apply().successful()
    expected = [plan("beginner").disk_bytes] * 2 + [42 * MIB]
    assert [hard_limit(user) for user in users] == expected
    assert own_fileserver.log().count("batch of 3 quotas applied") == 1


@pytest.mark.django_db
def test_the_nightly_batch_never_overlaps_a_run_in_progress(own_fileserver, caplog):
    user = own_fileserver.user_on_it("night-lock")
    with cache_lock(tasks.REAPPLY_LOCK_KEY, timeout=60) as held:
        assert held
        tasks.storage_quotas_reapply.apply()
        assert hard_limit(user) == 0
        assert "a run is already going" in caplog.text
    tasks.storage_quotas_reapply.apply()
    assert hard_limit(user) == plan("beginner").disk_bytes


@pytest.mark.django_db
def test_one_unreachable_file_server_does_not_stop_the_others(own_fileserver, caplog):
    user = own_fileserver.user_on_it("night-ok")
    dead = Server.objects.create(
        kind="file", hostname="dead", fileserver_agent_url="http://127.0.0.1:9"
    )
    UserFactory(username="night-dead", file_server=dead)
    tasks.storage_quotas_reapply.apply()
    assert hard_limit(user) == plan("beginner").disk_bytes
    assert "dead unavailable" in caplog.text


def test_the_nightly_batch_is_on_the_beat_schedule(settings):
    from celery.schedules import crontab

    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["files-reapply-all-quotas"]
    assert (
        entry["task"] == tasks.storage_quotas_reapply.name == "files.tasks.storage_quotas_reapply"
    )
    assert entry["task"] in app.tasks
    assert isinstance(entry["schedule"], crontab) and entry["schedule"].hour == {3}


@pytest.mark.parametrize(
    ("old", "new", "args", "handed_on"),
    [
        ("files.tasks.create_home", "home_create", [7], ((7,), {})),
        ("files.tasks.apply_storage_quota", "storage_quota_apply", [7], ((7,), {})),
        (
            "files.tasks.reapply_all_quotas",
            "storage_quotas_reapply",
            [],
            ((), {"server_ids": None}),
        ),
    ],
)
def test_messages_queued_under_the_old_task_names_are_handed_on(
    monkeypatch, old, new, args, handed_on
):
    from config.celery import app

    handed = []
    monkeypatch.setattr(getattr(tasks, new), "delay", lambda *a, **k: handed.append((a, k)))
    app.tasks[old].apply(args=args)
    assert handed == [handed_on]
