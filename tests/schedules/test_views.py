"""The Tasks tab's pages: owner and outsider on every task URL, bad input, the list's queries."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from education.models import TeacherAction
from schedules import services
from schedules.models import ScheduledTask, TaskRun
from tests.factories import UserFactory
from tests.schedules.conftest import DAILY_AT_10

GOOD = {"command": "echo hi", "interval": "daily", "hour": "3", "minute": "15"}


@pytest.fixture
def task(user, task_server):
    return services.task_create(
        owner=user,
        command="python3 ~/report.py",
        schedule=DAILY_AT_10,
        description="daily report",
        now=timezone.now(),
    )


def test_the_list_shows_a_task_with_its_schedule_next_run_and_log_link(alice_client, task):
    page = alice_client.get(reverse("schedules:index")).content.decode()
    assert "python3 ~/report.py" in page and "daily report" in page
    assert "Daily at 10:00 UTC" in page
    assert task.next_run_at.strftime("%Y-%m-%d %H:%M") + " UTC" in page
    assert f"/files/edit/home/alice/task_logs/task-{task.pk}.log" in page
    assert "Extend" in page and "Run now" in page


def test_the_list_costs_the_same_queries_for_one_task_or_many(
    alice_client, paid, task_server, django_assert_max_num_queries
):
    def add(count):
        for number in range(count):
            task = services.task_create(
                owner=paid, command=f"echo {number}", schedule=DAILY_AT_10, now=timezone.now()
            )
            TaskRun.objects.create(task=task, scheduled_for=timezone.now() - timedelta(days=1))

    add(1)
    with django_assert_max_num_queries(12) as one:
        alice_client.get(reverse("schedules:index"))
    add(5)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = alice_client.get(reverse("schedules:index"))
    assert page.content.decode().count("Run now") == 6


def test_adding_a_task(alice_client, task_server):
    response = alice_client.post(reverse("schedules:create"), {**GOOD, "description": "d"})
    assert response.status_code == 302
    task = ScheduledTask.objects.get()
    assert (task.command, task.hour, task.minute, task.description) == ("echo hi", 3, 15, "d")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"command": "echo a\necho b"}, "no line breaks"),
        ({"command": "echo a\x00"}, "Null characters are not allowed"),
        ({"command": ""}, "This field is required"),
        ({"hour": "24"}, "less than or equal to 23"),
        ({"hour": ""}, "A daily task needs an hour"),
        ({"minute": "60"}, "less than or equal to 59"),
        ({"minute": "x"}, "Enter a whole number"),
        ({"interval": "weekly"}, "Select a valid choice"),
        ({"interval": "hourly"}, "Hourly tasks are for paid plans"),
        ({"command": "/etc/passwd"}, "must be inside your home directory"),
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_stored(
    alice_client, task_server, change, message
):
    response = alice_client.post(reverse("schedules:create"), {**GOOD, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ScheduledTask.objects.exists()


def test_over_the_limit_is_a_form_error(alice_client, task):
    response = alice_client.post(reverse("schedules:create"), GOOD)
    assert response.status_code == 400
    assert "allows 1 scheduled task" in response.content.decode()
    assert ScheduledTask.objects.count() == 1


def test_editing_a_task(alice_client, task):
    url = reverse("schedules:edit", args=[task.pk])
    assert "python3 ~/report.py" in alice_client.get(url).content.decode()
    response = alice_client.post(url, {**GOOD, "command": "echo changed", "minute": "7"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.command, task.minute) == ("echo changed", 7)


def test_a_bad_edit_changes_nothing(alice_client, task):
    url = reverse("schedules:edit", args=[task.pk])
    response = alice_client.post(url, {**GOOD, "command": "a\nb"})
    assert response.status_code == 400 and "no line breaks" in response.content.decode()
    task.refresh_from_db()
    assert task.command == "python3 ~/report.py"


def test_the_switch_disables_and_enables(alice_client, task):
    url = reverse("schedules:enable", args=[task.pk])
    alice_client.post(url, {"enabled": "0"})
    task.refresh_from_db()
    assert task.enabled is False
    alice_client.post(url, {"enabled": "1"})
    task.refresh_from_db()
    assert task.enabled is True


def test_extend_moves_the_expiry(alice_client, task):
    ScheduledTask.objects.filter(pk=task.pk).update(expires_at=timezone.now() + timedelta(days=1))
    alice_client.post(reverse("schedules:extend", args=[task.pk]))
    task.refresh_from_db()
    assert task.expires_at > timezone.now() + timedelta(days=27)


def test_delete(alice_client, task):
    alice_client.post(reverse("schedules:delete", args=[task.pk]))
    assert not ScheduledTask.objects.exists()


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("schedules:edit", "get"),
        ("schedules:edit", "post"),
        ("schedules:delete", "post"),
        ("schedules:enable", "post"),
        ("schedules:run", "post"),
        ("schedules:extend", "post"),
    ],
)
def test_an_outsider_gets_404_on_every_task_url_and_changes_nothing(
    outsider_client, task, name, method
):
    before = ScheduledTask.objects.values().get(pk=task.pk)
    response = getattr(outsider_client, method)(
        reverse(name, args=[task.pk]), {**GOOD, "enabled": "0"}
    )
    assert response.status_code == 404
    assert ScheduledTask.objects.values().get(pk=task.pk) == before
    assert not TaskRun.objects.exists()


def test_the_outsiders_list_does_not_show_the_owners_task(outsider_client, task):
    assert "report.py" not in outsider_client.get(reverse("schedules:index")).content.decode()


def test_get_on_an_action_is_refused(alice_client, task):
    assert alice_client.get(reverse("schedules:run", args=[task.pk])).status_code == 405


def test_anonymous_visitors_are_sent_to_log_in(client, task):
    response = client.get(reverse("schedules:index"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_hourly_for_a_paid_user(task_server, client):
    paid_user = UserFactory(username="carol")
    from accounts.models import Plan

    paid_user.plan = Plan.objects.get(slug="hacker")
    paid_user.save()
    client.force_login(paid_user)
    response = client.post(reverse("schedules:create"), {**GOOD, "interval": "hourly", "hour": ""})
    assert response.status_code == 302
    task = ScheduledTask.objects.get()
    assert task.schedule_display == "Hourly at :15" and task.expires_at is None


@pytest.fixture
def teacher_client(user):
    from education.services import teacher_nominate

    teacher = UserFactory(username="tess")
    teacher_nominate(student=user, username="tess")
    client = Client()
    client.force_login(teacher)
    return client


def test_the_teacher_sees_changes_and_switches_a_students_task_and_each_act_is_recorded(
    teacher_client, task
):
    student_page = reverse("education:student", args=["alice"])
    assert (
        reverse("schedules:edit", args=[task.pk])
        in teacher_client.get(student_page).content.decode()
    )
    url = reverse("schedules:edit", args=[task.pk])
    assert "python3 ~/report.py" in teacher_client.get(url).content.decode()
    response = teacher_client.post(url, {**GOOD, "command": "echo fixed"})
    assert response.status_code == 302 and response["Location"] == student_page
    teacher_client.post(reverse("schedules:enable", args=[task.pk]), {"enabled": "0"})
    task.refresh_from_db()
    assert (task.command, task.enabled, task.owner.username) == ("echo fixed", False, "alice")
    actions = list(TeacherAction.objects.values_list("action", flat=True).order_by("pk"))
    assert actions == ["opened the task", "changed the task", "disabled the task"]


def test_a_former_teacher_gets_404_on_the_students_tasks(teacher_client, task, user):
    from education.models import TeacherLink
    from education.services import teacher_remove

    teacher_remove(link=TeacherLink.objects.get(student=user), by=user)
    assert teacher_client.get(reverse("schedules:edit", args=[task.pk])).status_code == 404
    assert teacher_client.post(reverse("schedules:delete", args=[task.pk])).status_code == 404
    assert ScheduledTask.objects.filter(pk=task.pk).exists()
