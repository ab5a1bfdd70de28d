"""Always-on tasks on a real execution agent: run as the user, restarted with growing delays
(the log says so), stopped when disabled or deleted, started again by an agent restart; their
state on the Tasks tab and their label on the Processes page."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from accounts.models import Plan
from schedules import agent, services
from tests.factories import person

pytestmark = pytest.mark.root


@pytest.fixture
def owner(db, provisioned):
    user = provisioned(person("alice"))
    user.plan = Plan.objects.get(slug="web-developer")
    user.save(update_fields=["plan"])
    servers = []
    yield user, servers
    # The agent keeps what it was told even across tests: leave it nothing of this user's.
    for server in servers:
        agent.always_on_set(server, user, [])


def add(owner, command, description="", capture=None):
    user, servers = owner
    with capture(execute=True):
        task = services.always_on_create(owner=user, command=command, description=description)
    servers.append(task.server)
    return task


def until(check, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def status(task):
    entries = agent.always_on_status(task.server, task.owner)
    return next((entry for entry in entries if entry["task_id"] == task.pk), None)


def log_text(exec_agent, task) -> str:
    path = exec_agent.homes / task.owner.username / task.log_relative_path
    return path.read_text() if path.exists() else ""


def alive(task) -> list:
    from servers.agents import execution_agent, user_ref

    return [
        p
        for p in execution_agent(task.server).processes(user=user_ref(task.owner))
        if (p["tag_kind"], p["tag_id"]) == ("always_on", str(task.pk))
    ]


def test_it_runs_as_the_user_and_the_tab_and_processes_page_show_it(
    owner, exec_agent, client, django_capture_on_commit_callbacks
):
    user, _ = owner
    task = add(
        owner,
        "echo uid=$(id -u) > ~/aot.txt; exec sleep 600",
        "chat bot",
        django_capture_on_commit_callbacks,
    )
    until(lambda: (s := status(task)) and s["state"] == "running", what="running")
    home = exec_agent.homes / user.username
    until(lambda: (home / "aot.txt").exists(), what="its output")
    assert (home / "aot.txt").read_text() == f"uid={user.uid}\n"
    assert (home / "aot.txt").stat().st_uid == user.uid
    client.force_login(user)
    index = client.get(reverse("schedules:index")).content.decode()
    assert 'class="always-on-state">running<' in index
    page = until(
        lambda: (
            "Always-on: chat bot"
            in (p := client.get(reverse("servers:processes")).content.decode())
            and p
        ),
        what="the label on the Processes page",
    )
    assert reverse("schedules:always_on_edit", args=[task.pk]) in page


def test_one_that_exits_is_restarted_with_growing_delays_and_the_log_says_so(
    owner, exec_agent, client, django_capture_on_commit_callbacks
):
    task = add(owner, "echo tick; exit 7", capture=django_capture_on_commit_callbacks)
    until(lambda: log_text(exec_agent, task).count("started:") >= 4, what="four starts")
    text = log_text(exec_agent, task)
    delays = [float(d) for d in re.findall(r"restarting in ([\d.]+) s", text)]
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert "exited with status 7" in text
    client.force_login(owner[0])
    until(
        lambda: "restarting in" in client.get(reverse("schedules:index")).content.decode(),
        what="the tab to say it is restarting",
    )


def test_stop_kills_it_start_and_restart_bring_it_back_and_delete_ends_it(
    owner, exec_agent, client, django_capture_on_commit_callbacks
):
    user, _ = owner
    task = add(owner, "exec sleep 600", capture=django_capture_on_commit_callbacks)
    first = until(lambda: alive(task), what="running")[0]["pid"]
    client.force_login(user)
    enable = reverse("schedules:always_on_enable", args=[task.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(enable, {"enabled": "0"})
    until(lambda: not alive(task), what="stopped")
    assert status(task) is None
    assert (
        'class="always-on-state">stopped<'
        in client.get(reverse("schedules:index")).content.decode()
    )
    # Written by the supervisor once it has reaped the sandbox, a moment after the processes.
    until(lambda: "stopped; exited" in log_text(exec_agent, task), what="the stop in the log")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(enable, {"enabled": "1"})
    second = until(lambda: alive(task), what="started again")[0]["pid"]
    assert second != first
    client.post(reverse("schedules:always_on_restart", args=[task.pk]))
    until(lambda: (p := alive(task)) and p[0]["pid"] != second, what="restarted")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("schedules:always_on_delete", args=[task.pk]))
    until(lambda: not alive(task), what="gone after delete")


def test_a_move_to_the_free_plan_stops_it(owner, exec_agent, django_capture_on_commit_callbacks):
    from accounts.services import plan_change

    user, _ = owner
    task = add(owner, "exec sleep 600", capture=django_capture_on_commit_callbacks)
    until(lambda: alive(task), what="running")
    with django_capture_on_commit_callbacks(execute=True):
        plan_change(user=user, plan=Plan.objects.get(slug="beginner"))
    until(lambda: not alive(task), what="stopped by the plan change")


def test_an_agent_restart_starts_enabled_tasks_again(
    owner, exec_agent, django_capture_on_commit_callbacks
):
    task = add(owner, "exec sleep 600", capture=django_capture_on_commit_callbacks)
    until(lambda: alive(task), what="running")
    exec_agent.stop()
    exec_agent.start()
    until(lambda: (s := status(task)) and s["state"] == "running", what="running again")
    until(lambda: alive(task), what="its process again")
    assert log_text(exec_agent, task).count("started: exec sleep 600") == 2
