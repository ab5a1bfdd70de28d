"""Runs on a real execution agent: a task fires at its (test-controlled) time in the user's
sandbox, as the user; its log, its run row, its CPU; the wall limit; Run now; the Processes
page's label."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from schedules import services
from schedules.models import ScheduledTask, TaskRun
from schedules.services import Schedule
from servers.models import CpuAccount
from servers.tasks import account_cpu_on
from tests.factories import person

pytestmark = pytest.mark.root


@pytest.fixture
def owner(db, provisioned):
    return provisioned(person("alice"))


def new_task(owner, command, *, description="", now=None):
    now = now or timezone.now()
    return services.task_create(
        owner=owner,
        command=command,
        schedule=Schedule("daily", (now.hour + 1) % 24, 0),
        description=description,
        now=now,
    )


def finished_run(task, timeout=30.0) -> TaskRun:
    """Collect results from the task's server until the task's latest run is over."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        services.task_results_record(server=task.server, now=timezone.now())
        run = TaskRun.objects.filter(task=task).order_by("-scheduled_for").first()
        if run is not None and run.state not in (TaskRun.State.QUEUED, TaskRun.State.RUNNING):
            return run
        time.sleep(0.1)
    raise AssertionError(f"no finished run of {task}: {list(TaskRun.objects.values())}")


def log_text(exec_agent, task) -> str:
    return (exec_agent.homes / task.owner.username / task.log_relative_path).read_text()


def test_a_task_fires_at_its_time_as_the_user_and_its_log_has_output_and_header(
    owner, exec_agent, django_capture_on_commit_callbacks
):
    task = new_task(owner, "echo made > ~/made.txt; echo uid=$(id -u); echo oops >&2; exit 4")
    slot = task.next_run_at
    with django_capture_on_commit_callbacks(execute=True):
        assert services.tasks_dispatch_due(now=slot - timedelta(seconds=1)) == []
    assert not TaskRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert len(services.tasks_dispatch_due(now=slot + timedelta(seconds=2))) == 1
    run = finished_run(task)
    assert run.scheduled_for == slot and run.state == TaskRun.State.DONE
    assert run.exit_status == 4 and run.duration_seconds is not None
    home = exec_agent.homes / owner.username
    assert (home / "made.txt").read_text() == "made\n"
    assert (home / "made.txt").stat().st_uid == owner.uid
    text = log_text(exec_agent, task)
    assert f"uid={owner.uid}\n" in text and "oops\n" in text
    assert f"task {task.pk} run {run.agent_key} started: echo made" in text
    assert "exit status 4, CPU" in text
    # Recorded once: the agent forgot the result it handed over.
    assert services.task_results_record(server=task.server, now=timezone.now()) == 0


def test_a_runs_cpu_is_measured_and_counted_in_the_users_day(
    owner, exec_agent, django_capture_on_commit_callbacks
):
    task = new_task(owner, "true")
    # A first run makes the user's cgroup, and accounting's first sight of it is a baseline.
    with django_capture_on_commit_callbacks(execute=True):
        services.task_run_now(task=task, now=timezone.now())
    finished_run(task)
    account_cpu_on(task.server, now=timezone.now())
    before = CpuAccount.objects.get(user=owner).used_seconds
    ScheduledTask.objects.filter(pk=task.pk).update(
        command="timeout 1 sh -c 'while :; do :; done'; true"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.task_run_now(task=task, now=timezone.now())
    run = finished_run(task)
    assert run.cpu_seconds > 0.3
    account_cpu_on(task.server, now=timezone.now())
    assert CpuAccount.objects.get(user=owner).used_seconds - before > 0.3


def test_a_task_past_the_wall_limit_is_killed_and_the_log_says_so(
    owner, exec_agent, settings, django_capture_on_commit_callbacks
):
    settings.WARREN_TASK_WALL_SECONDS_FREE = 1
    task = new_task(owner, "echo begun; sleep 60; echo never")
    with django_capture_on_commit_callbacks(execute=True):
        services.task_run_now(task=task, now=timezone.now())
    run = finished_run(task)
    assert run.state == TaskRun.State.KILLED and run.duration_seconds < 30
    text = log_text(exec_agent, task)
    assert "\nbegun\n" in text and "\nnever\n" not in text
    assert "killed at the wall-clock limit of 1 s" in text


def test_disabled_and_expired_tasks_do_not_run(
    owner, exec_agent, django_capture_on_commit_callbacks
):
    disabled = new_task(owner, "echo disabled > ~/disabled.txt")
    services.task_enable_set(task=disabled, enabled=False, now=timezone.now())
    ScheduledTask.objects.filter(pk=disabled.pk).update(next_run_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.tasks_dispatch_due(now=timezone.now() + timedelta(minutes=1)) == []
    ScheduledTask.objects.filter(pk=disabled.pk).update(
        enabled=True, expires_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.tasks_dispatch_due(now=timezone.now() + timedelta(minutes=1)) == []
    time.sleep(0.5)
    assert not (exec_agent.homes / owner.username / "disabled.txt").exists()
    assert not TaskRun.objects.exists()


def test_run_now_from_the_tasks_tab_and_the_processes_page_names_the_run(
    owner, exec_agent, client, django_capture_on_commit_callbacks
):
    task = new_task(owner, "echo now-ran; sleep 20", description="nightly report")
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("schedules:run", args=[task.pk]))
    assert response.status_code == 302
    run = TaskRun.objects.get(task=task)
    assert run.trigger == TaskRun.Trigger.MANUAL and run.state == TaskRun.State.RUNNING
    deadline = time.monotonic() + 15
    while "Task: nightly report" not in (
        page := client.get(reverse("servers:processes")).content.decode()
    ):
        assert time.monotonic() < deadline, page
        time.sleep(0.2)
    assert reverse("schedules:edit", args=[task.pk]) in page
    services.task_run_kill(run=run)
    finished = finished_run(task)
    assert finished.exit_status != 0
    assert "now-ran" in log_text(exec_agent, task)
    index = client.get(reverse("schedules:index")).content.decode()
    assert "exit " in index and f"task-{task.pk}.log" in index


def test_two_schedulers_racing_start_a_slot_once(
    owner, exec_agent, django_capture_on_commit_callbacks
):
    task = new_task(owner, "echo once >> ~/count.txt")
    now = task.next_run_at + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.tasks_dispatch_due(now=now)
        second = services.tasks_dispatch_due(now=now)
    # A redelivered run message starts nothing either.
    from schedules.tasks import run_task

    run_task.apply((first[0].run_id,))
    finished_run(task)
    assert second == []
    assert (exec_agent.homes / owner.username / "count.txt").read_text() == "once\n"


def test_a_time_far_from_now_is_fine_for_the_schedule(owner):
    # The dispatch takes its clock from the caller: a test (or a backfill) can pass any time.
    far = datetime(2031, 1, 1, 0, 0, tzinfo=UTC)
    task = new_task(owner, "true", now=far)
    assert task.next_run_at == far.replace(hour=1)
