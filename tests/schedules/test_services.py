"""The Tasks tab's rules and the scheduler's claims, without a task server (no run starts)."""

from datetime import timedelta

import pytest
from django.core import mail

from accounts.services import plan_change
from config.errors import AppError
from schedules import services
from schedules.models import ScheduledTask, TaskRun
from schedules.services import Schedule
from tests.schedules.conftest import DAILY_AT_10, NOW


def create(owner, command="echo hi", schedule=DAILY_AT_10, now=NOW, **kwargs):
    return services.task_create(owner=owner, command=command, schedule=schedule, now=now, **kwargs)


def test_a_new_task_runs_at_its_next_slot_and_a_free_one_expires_in_four_weeks(user, task_server):
    task = create(user, description="backup")
    assert task.next_run_at == NOW.replace(hour=10, minute=0, second=0)
    assert task.expires_at == NOW + timedelta(days=28)
    assert task.server == task_server and task.log_relative_path == f"task_logs/task-{task.pk}.log"


def test_paid_tasks_never_expire_and_may_run_hourly(paid, task_server):
    task = create(paid, schedule=Schedule("hourly", None, 45))
    assert task.expires_at is None and task.hour is None
    assert task.next_run_at == NOW.replace(minute=45, second=0)


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("echo a\necho b", "no line breaks"),
        ("echo a\rb", "no line breaks"),
        ("echo \0", "no line breaks"),
        ("   ", "Enter a command"),
        ("x" * 1001, "longer than 1000"),
        ("/etc/cron.daily/backup", "inside your home"),
        ("~/../bob/x.sh", "may not contain '..'"),
        ("python3 /home/bob/steal.py", "inside your home"),
    ],
)
def test_bad_commands_are_refused_and_nothing_is_stored(user, task_server, command, words):
    with pytest.raises(AppError) as refused:
        create(user, command=command)
    assert words in refused.value.message and refused.value.field == "command"
    assert not ScheduledTask.objects.exists()


def test_a_script_in_the_home_and_system_programs_are_fine(paid, task_server):
    create(paid, command="/home/alice/backup.sh")
    create(paid, command="  ~/backup.sh  ")
    create(paid, command="/usr/bin/python3 /home/alice/report.py --daily > /dev/null")
    assert list(ScheduledTask.objects.values_list("command", flat=True)) == [
        "/home/alice/backup.sh",
        "~/backup.sh",
        "/usr/bin/python3 /home/alice/report.py --daily > /dev/null",
    ]


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (Schedule("daily", 24, 0), "hour"),
        (Schedule("daily", None, 0), "hour"),
        (Schedule("daily", 3, 60), "minute"),
        (Schedule("daily", 3, -1), "minute"),
        (Schedule("weekly", 3, 0), "interval"),
    ],
)
def test_schedules_out_of_range_are_refused(paid, task_server, schedule, field):
    with pytest.raises(AppError) as refused:
        create(paid, schedule=schedule)
    assert refused.value.field == field
    assert not ScheduledTask.objects.exists()


def test_hourly_is_refused_on_a_free_plan(user, task_server):
    with pytest.raises(AppError, match="Hourly tasks are for paid plans"):
        create(user, schedule=Schedule("hourly", None, 5))
    assert not ScheduledTask.objects.exists()


def test_the_plans_task_limit_is_enforced_with_a_clear_message(user, task_server):
    create(user)
    with pytest.raises(AppError) as refused:
        create(user, command="echo two")
    assert "allows 1 scheduled task, and you have 1" in refused.value.message
    assert "Hacker plan allows more" in refused.value.message
    assert ScheduledTask.objects.count() == 1


def test_without_a_task_server_nothing_is_stored(user):
    with pytest.raises(AppError, match="No task server"):
        create(user)
    assert not ScheduledTask.objects.exists()


# --- the scheduler -----------------------------------------------------------------------


def due_minute(task, seconds=5):
    return task.next_run_at + timedelta(seconds=seconds)


def test_a_due_task_gets_one_run_for_its_slot_and_moves_to_the_next(user, task_server):
    task = create(user)
    slot = task.next_run_at
    dispatched = services.tasks_dispatch_due(now=due_minute(task))
    run = TaskRun.objects.get()
    assert [d.run_id for d in dispatched] == [run.pk] and dispatched[0].queue == "exec.tasks-1"
    assert run.scheduled_for == slot and run.state == TaskRun.State.QUEUED
    task.refresh_from_db()
    assert task.next_run_at == slot + timedelta(days=1)


def test_nothing_is_due_before_its_minute(user, task_server):
    task = create(user)
    assert services.tasks_dispatch_due(now=task.next_run_at - timedelta(seconds=1)) == []
    assert not TaskRun.objects.exists()


def test_a_missed_stretch_runs_once_and_then_on_schedule(paid, task_server):
    task = create(paid, schedule=Schedule("hourly", None, 0))
    first_slot = task.next_run_at
    # Beat was down for five hours: one run, for the oldest missed slot.
    late = first_slot + timedelta(hours=5, minutes=7)
    assert len(services.tasks_dispatch_due(now=late)) == 1
    assert list(TaskRun.objects.values_list("scheduled_for", flat=True)) == [first_slot]
    task.refresh_from_db()
    assert task.next_run_at == first_slot + timedelta(hours=6)
    assert services.tasks_dispatch_due(now=late + timedelta(seconds=30)) == []


def test_two_schedulers_in_the_same_minute_claim_a_slot_once(user, task_server):
    task = create(user)
    now = due_minute(task)
    first = services.tasks_dispatch_due(now=now)
    second = services.tasks_dispatch_due(now=now)
    assert len(first) == 1 and second == []
    assert TaskRun.objects.count() == 1


def test_a_slot_claimed_already_is_not_claimed_again_even_if_the_task_is_rewound(user, task_server):
    task = create(user)
    slot = task.next_run_at
    services.tasks_dispatch_due(now=due_minute(task))
    # A scheduler that read the task before the first one moved it on sees the old slot.
    ScheduledTask.objects.filter(pk=task.pk).update(next_run_at=slot)
    assert services.tasks_dispatch_due(now=due_minute(task, 20)) == []
    assert TaskRun.objects.count() == 1


def test_disabled_tasks_do_not_run_and_enabling_skips_missed_slots(user, task_server):
    task = create(user)
    services.task_enable_set(task=task, enabled=False, now=NOW)
    assert services.tasks_dispatch_due(now=due_minute(task)) == []
    later = due_minute(task, 3600)
    services.task_enable_set(task=task, enabled=True, now=later)
    task.refresh_from_db()
    assert task.next_run_at > later
    assert not TaskRun.objects.exists()


def test_an_expired_free_task_does_not_run_and_moves_on(user, task_server):
    task = create(user)
    expired_day = NOW + timedelta(days=30)
    ScheduledTask.objects.filter(pk=task.pk).update(next_run_at=expired_day.replace(second=0))
    assert services.tasks_dispatch_due(now=expired_day + timedelta(seconds=1)) == []
    assert not TaskRun.objects.exists()
    task.refresh_from_db()
    assert task.next_run_at > expired_day


def test_extend_gives_four_more_weeks_from_now(user, task_server):
    task = create(user)
    later = NOW + timedelta(days=27)
    services.task_extend(task=task, now=later)
    task.refresh_from_db()
    assert task.expires_at == later + timedelta(days=28)


def test_extending_a_paid_task_is_refused(paid, task_server):
    task = create(paid)
    with pytest.raises(AppError, match="does not expire"):
        services.task_extend(task=task, now=NOW)


def test_upgrading_stops_expiry_and_downgrading_starts_it(
    user, task_server, django_capture_on_commit_callbacks
):
    from accounts.models import Plan

    task = create(user)
    with django_capture_on_commit_callbacks(execute=True):
        plan_change(user=user, plan=Plan.objects.get(slug="hacker"))
    task.refresh_from_db()
    assert task.expires_at is None
    with django_capture_on_commit_callbacks(execute=True):
        plan_change(user=user, plan=Plan.objects.get(slug="beginner"))
    task.refresh_from_db()
    assert task.expires_at is not None


def test_owners_hear_a_week_before_expiry_once(user, task_server):
    task = create(user, description="nightly tests")
    almost = task.expires_at - timedelta(days=6)
    assert services.task_expiry_reminders_send(now=almost - timedelta(days=2)) == 0
    assert services.task_expiry_reminders_send(now=almost) == 1
    assert services.task_expiry_reminders_send(now=almost + timedelta(hours=1)) == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email] and "nightly tests" in mail.outbox[0].body
    services.task_extend(task=task, now=almost)
    task.refresh_from_db()
    assert task.expiry_reminded_at is None
