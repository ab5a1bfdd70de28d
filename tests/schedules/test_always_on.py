"""Always-on tasks without an agent: the rules (paid plans, the limit, bad commands), the pages
(owner, outsider 404 on every URL, teacher), and the push that goes out on commit."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Plan
from accounts.services import custom_limits_set
from config.errors import AppError
from education.models import TeacherAction
from schedules import services
from schedules.models import AlwaysOnTask
from schedules.process_labels import always_on_labels
from tests.factories import UserFactory

GOOD = {"command": "python3 ~/bot.py", "description": "chat bot"}


@pytest.fixture
def aot(paid, task_server):
    return services.always_on_create(owner=paid, command="python3 ~/bot.py", description="bot")


@pytest.fixture
def paid_client(paid):
    client = Client()
    client.force_login(paid)
    return client


def test_a_paid_user_adds_one_and_its_set_is_pushed_to_the_server_on_commit(
    paid, task_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        task = services.always_on_create(owner=paid, command="  python3 ~/bot.py ", description="b")
    assert task.command == "python3 ~/bot.py" and task.enabled and task.server == task_server
    assert task.log_relative_path == f"task_logs/always-on-{task.pk}.log"
    assert len(callbacks) == 1


def test_the_free_plan_is_refused_with_a_clear_message(user, task_server):
    with pytest.raises(AppError) as caught:
        services.always_on_create(owner=user, command="python3 ~/bot.py")
    assert "Always-on tasks are for paid plans" in caught.value.message
    assert "Hacker" in caught.value.message
    assert not AlwaysOnTask.objects.exists()


def test_the_plans_limit_is_enforced_with_a_clear_message(paid, task_server):
    assert paid.plan.max_always_on_tasks == 1
    services.always_on_create(owner=paid, command="sleep 1000")
    with pytest.raises(AppError) as caught:
        services.always_on_create(owner=paid, command="sleep 2000")
    message = caught.value.message
    assert "Hacker plan allows 1 always-on task, and you have 1" in message
    assert "Web Developer plan allows more" in message
    assert AlwaysOnTask.objects.count() == 1


def test_custom_limits_without_always_on_tasks_are_refused(user, task_server):
    limits = {
        "cpu_seconds_per_day": 5000,
        "max_consoles": None,
        "max_web_apps": 1,
        "max_web_workers_per_app": 1,
        "disk_bytes": 1 << 30,
        "max_scheduled_tasks": 5,
        "max_always_on_tasks": 0,
        "postgres_allowed": False,
        "custom_domains_allowed": False,
        "ssh_allowed": False,
    }
    custom_limits_set(user=user, **limits)
    with pytest.raises(AppError):
        services.always_on_create(owner=user, command="sleep 1000")
    custom_limits_set(user=user, **{**limits, "max_always_on_tasks": 2})
    user.refresh_from_db()
    services.always_on_create(owner=user, command="sleep 1000")
    services.always_on_create(owner=user, command="sleep 2000")
    assert AlwaysOnTask.objects.count() == 2


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("", "Enter a command"),
        ("   ", "Enter a command"),
        ("echo a\necho b", "one command line"),
        ("echo a\rb", "one command line"),
        ("echo a\x00b", "one command line"),
        ("x" * 1001, "longer than 1000"),
        ("/home/mallory/evil.sh", "home"),
        ("/etc/passwd", "home"),
        ("bash /home/mallory/run.sh", "home"),
    ],
)
def test_bad_commands_are_refused_and_nothing_is_stored(paid, task_server, command, says):
    with pytest.raises(AppError) as caught:
        services.always_on_create(owner=paid, command=command)
    assert says in caught.value.message and caught.value.field == "command"
    assert not AlwaysOnTask.objects.exists()


def test_a_bad_edit_changes_nothing(aot):
    with pytest.raises(AppError):
        services.always_on_update(task=aot, command="a\nb", description="x")
    aot.refresh_from_db()
    assert aot.command == "python3 ~/bot.py" and aot.description == "bot"


def test_start_on_a_plan_that_lost_always_on_tasks_is_refused(aot, paid):
    services.always_on_enable_set(task=aot, enabled=False)
    paid.plan = Plan.objects.get(slug="beginner")
    paid.save(update_fields=["plan"])
    with pytest.raises(AppError):
        services.always_on_enable_set(task=aot, enabled=True)
    aot.refresh_from_db()
    assert not aot.enabled


def test_restart_of_a_stopped_task_is_refused(aot):
    services.always_on_enable_set(task=aot, enabled=False)
    with pytest.raises(AppError) as caught:
        services.always_on_restart(task=aot)
    assert "Start" in caught.value.message


def test_the_processes_page_labels_only_the_owners_always_on_tasks(aot, outsider):
    labels = always_on_labels(aot.owner, [str(aot.pk), "x", "999999"])
    assert labels == {str(aot.pk): ("Always-on: bot", aot.get_absolute_url())}
    assert always_on_labels(outsider, [str(aot.pk)]) == {}


# --- pages ------------------------------------------------------------------------------------


def test_the_tasks_tab_lists_it_with_its_buttons_and_log_link(paid_client, aot):
    page = paid_client.get(reverse("schedules:index")).content.decode()
    assert "Always-on tasks" in page and "python3 ~/bot.py" in page
    assert reverse("schedules:always_on_restart", args=[aot.pk]) in page
    assert reverse("schedules:always_on_enable", args=[aot.pk]) in page
    assert f"task_logs/always-on-{aot.pk}.log" in page
    # No agent answers for this server: the page still renders, and says it is not running.
    assert "not running" in page


def test_a_free_user_sees_no_add_form_but_the_plans(alice_client, task_server):
    page = alice_client.get(reverse("schedules:index")).content.decode()
    assert "Always-on tasks are for paid plans" in page
    assert reverse("schedules:always_on_create") not in page


def test_adding_from_the_tab(paid_client, task_server):
    response = paid_client.post(reverse("schedules:always_on_create"), GOOD)
    assert response.status_code == 302
    task = AlwaysOnTask.objects.get()
    assert (task.command, task.description) == ("python3 ~/bot.py", "chat bot")


@pytest.mark.parametrize(
    "data", [{"command": "a\nb"}, {"command": ""}, {"command": "/home/mallory/x.sh"}]
)
def test_bad_input_on_the_tab_is_a_form_error_and_nothing_is_stored(paid_client, task_server, data):
    response = paid_client.post(reverse("schedules:always_on_create"), data)
    assert response.status_code == 400
    assert "form-error" in response.content.decode()
    assert not AlwaysOnTask.objects.exists()


def test_the_free_plan_on_the_tab_is_a_form_error(alice_client, task_server):
    response = alice_client.post(reverse("schedules:always_on_create"), GOOD)
    assert response.status_code == 400
    assert "Always-on tasks are for paid plans" in response.content.decode()
    assert not AlwaysOnTask.objects.exists()


def test_edit_stop_start_and_delete_from_the_tab(paid_client, aot):
    url = reverse("schedules:always_on_edit", args=[aot.pk])
    assert "python3 ~/bot.py" in paid_client.get(url).content.decode()
    assert paid_client.post(url, {"command": "a\nb"}).status_code == 400
    response = paid_client.post(url, {"command": "python3 ~/bot2.py", "description": "v2"})
    assert response.status_code == 302
    aot.refresh_from_db()
    assert (aot.command, aot.description) == ("python3 ~/bot2.py", "v2")
    enable = reverse("schedules:always_on_enable", args=[aot.pk])
    paid_client.post(enable, {"enabled": "0"})
    aot.refresh_from_db()
    assert not aot.enabled
    page = paid_client.get(reverse("schedules:index")).content.decode()
    assert "stopped" in page and ">Start<" in page
    paid_client.post(enable, {"enabled": "1"})
    aot.refresh_from_db()
    assert aot.enabled
    paid_client.post(reverse("schedules:always_on_delete", args=[aot.pk]))
    assert not AlwaysOnTask.objects.exists()


URLS = [
    ("schedules:always_on_edit", "get"),
    ("schedules:always_on_edit", "post"),
    ("schedules:always_on_delete", "post"),
    ("schedules:always_on_enable", "post"),
    ("schedules:always_on_restart", "post"),
]


@pytest.mark.parametrize(("name", "method"), URLS)
def test_an_outsider_gets_404_on_every_always_on_url_and_changes_nothing(
    outsider_client, aot, name, method
):
    before = AlwaysOnTask.objects.values().get(pk=aot.pk)
    response = getattr(outsider_client, method)(
        reverse(name, args=[aot.pk]), {**GOOD, "enabled": "0"}
    )
    assert response.status_code == 404
    assert AlwaysOnTask.objects.values().get(pk=aot.pk) == before


@pytest.mark.parametrize(("name", "method"), URLS)
def test_the_owner_reaches_every_always_on_url(paid_client, aot, name, method):
    if name == "schedules:always_on_restart":
        # The server's agent is not there in this test: a message, never a 500.
        response = paid_client.post(reverse(name, args=[aot.pk]))
        assert response.status_code == 302
        return
    data = {**GOOD, "enabled": "1"} if method == "post" else None
    response = getattr(paid_client, method)(reverse(name, args=[aot.pk]), data)
    assert response.status_code in (200, 302)


def test_the_outsiders_list_does_not_show_the_owners_task(outsider_client, aot):
    assert "bot.py" not in outsider_client.get(reverse("schedules:index")).content.decode()


def test_the_teacher_changes_and_stops_a_students_task_and_each_act_is_recorded(paid, aot):
    from education.services import teacher_nominate

    teacher = UserFactory(username="tess")
    teacher_nominate(student=paid, username="tess")
    client = Client()
    client.force_login(teacher)
    url = reverse("schedules:always_on_edit", args=[aot.pk])
    student_page = client.get(reverse("education:student", args=[paid.username])).content.decode()
    assert url in student_page and "Restart" in student_page
    assert "python3 ~/bot.py" in client.get(url).content.decode()
    response = client.post(url, {"command": "echo fixed"})
    assert response.status_code == 302
    client.post(reverse("schedules:always_on_enable", args=[aot.pk]), {"enabled": "0"})
    aot.refresh_from_db()
    assert aot.command == "echo fixed" and not aot.enabled
    actions = list(TeacherAction.objects.values_list("action", flat=True))
    assert "changed the task (always-on)" in actions and "stopped the task (always-on)" in actions
