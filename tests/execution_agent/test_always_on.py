"""always_on_set, always_on_status, always_on_restart: commands the agent keeps running."""

from __future__ import annotations

import re
import time

import pytest

from execution_agent.client import AgentError

pytestmark = pytest.mark.root


@pytest.fixture
def keep(client):
    """``keep(user, tasks, **terms)``: set a user's always-on tasks; all emptied afterwards."""
    users = []

    def set_tasks(user, tasks, *, backoff_max=30.0, stable=60.0):
        users.append(user)
        return client.always_on_set(
            user=user,
            tasks=tasks,
            log_max_bytes=1 << 20,
            backoff_max_seconds=backoff_max,
            stable_seconds=stable,
        )

    yield set_tasks
    for user in users:
        client.always_on_set(
            user=user, tasks=[], log_max_bytes=1 << 20, backoff_max_seconds=1, stable_seconds=1
        )


def until(check, timeout=20.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def status_of(client, user, task_id):
    return next((t for t in client.always_on_status(user=user) if t["task_id"] == task_id), None)


def tagged(client, user, task_id):
    return [
        p
        for p in client.processes(user=user)
        if (p["tag_kind"], p["tag_id"]) == ("always_on", str(task_id))
    ]


def log_of(harness, user, name="task_logs/always-on-1.log"):
    path = harness.homes / user["username"] / name
    return path.read_text() if path.exists() else ""


def task(task_id=1, command="sleep 600", log="task_logs/always-on-1.log"):
    return {"task_id": task_id, "command": command, "log": log}


def test_a_task_runs_as_the_user_in_their_sandbox_and_is_labelled_by_its_tag(
    client, harness, keep, alice
):
    keep(alice, [task(command="echo uid=$(id -u); exec sleep 600")])
    running = until(
        lambda: (s := status_of(client, alice, 1)) and s["state"] == "running" and s, what="start"
    )
    assert running["pid"]
    procs = until(lambda: tagged(client, alice, 1), what="the tagged process")
    assert any("sleep" in " ".join(p["cmdline"]) for p in procs)
    until(lambda: f"uid={alice['uid']}" in log_of(harness, alice), what="its output")
    text = log_of(harness, alice)
    assert "always-on task 1 started: echo uid=" in text
    path = harness.homes / alice["username"] / "task_logs" / "always-on-1.log"
    assert path.stat().st_uid == alice["uid"]


def test_a_task_that_exits_is_restarted_with_growing_delays_and_the_log_says_so(
    client, harness, keep, alice
):
    keep(alice, [task(command="echo tick; exit 3")])
    until(lambda: log_of(harness, alice).count("started:") >= 4, timeout=30, what="4 starts")
    text = log_of(harness, alice)
    delays = [float(d) for d in re.findall(r"restarting in ([\d.]+) s", text)]
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert "exited with status 3" in text and text.count("tick") >= 4
    status = status_of(client, alice, 1)
    assert status["restarts"] >= 3 and status["last_exit_status"] == 3


def test_the_back_off_is_capped(client, harness, keep, alice):
    keep(alice, [task(command="exit 1")], backoff_max=2)
    until(lambda: log_of(harness, alice).count("restarting in") >= 4, timeout=30, what="waits")
    delays = [float(d) for d in re.findall(r"restarting in ([\d.]+) s", log_of(harness, alice))]
    assert delays[:4] == [1.0, 2.0, 2.0, 2.0]
    status = status_of(client, alice, 1)
    assert status["state"] in ("waiting", "running")


def test_a_run_that_lasted_stable_seconds_restarts_after_one_second_again(
    client, harness, keep, alice
):
    # Fails fast twice (1 s, then 2 s), then the third run lasts past stable_seconds.
    command = (
        "n=$(cat ~/n 2>/dev/null || echo 0); echo $((n+1)) > ~/n; [ $n -ge 2 ] && sleep 2; exit 1"
    )
    keep(alice, [task(command=command)], stable=1.5)
    until(lambda: log_of(harness, alice).count("restarting in") >= 4, timeout=30, what="waits")
    delays = [float(d) for d in re.findall(r"restarting in ([\d.]+) s", log_of(harness, alice))]
    assert delays[:3] == [1.0, 2.0, 1.0]


def test_removing_a_task_stops_its_processes_and_the_log_says_so(client, harness, keep, alice):
    keep(alice, [task(), task(2, "sleep 600", "task_logs/always-on-2.log")])
    until(lambda: tagged(client, alice, 1) and tagged(client, alice, 2), what="both running")
    keep(alice, [task(2, "sleep 600", "task_logs/always-on-2.log")])
    until(lambda: not tagged(client, alice, 1), what="task 1 gone")
    assert [t["task_id"] for t in client.always_on_status(user=alice)] == [2]
    assert tagged(client, alice, 2)
    until(lambda: "stopped; exited" in log_of(harness, alice), what="the stop in the log")


def test_restart_starts_the_command_again_at_once(client, harness, keep, alice):
    keep(alice, [task()])
    first = until(lambda: tagged(client, alice, 1), what="running")[0]["pid"]
    assert client.always_on_restart(user=alice, task_id=1) is True
    until(
        lambda: (procs := tagged(client, alice, 1)) and procs[0]["pid"] != first,
        what="a new process",
    )
    assert "restarting in" not in log_of(harness, alice)
    assert client.always_on_restart(user=alice, task_id=99) is False


def test_an_agent_restart_starts_the_saved_tasks_again(client, harness, keep, alice):
    keep(alice, [task()])
    until(lambda: tagged(client, alice, 1), what="running")
    harness.stop()
    harness.start()
    client = harness.client()
    until(
        lambda: (s := status_of(client, alice, 1)) and s["state"] == "running",
        what="running again after the restart",
    )
    until(lambda: len(tagged(client, alice, 1)) >= 1, what="the process")
    assert log_of(harness, alice).count("started: sleep 600") == 2


def test_another_user_sees_and_restarts_nothing_of_alices(client, keep, alice, bob):
    keep(alice, [task()])
    until(lambda: tagged(client, alice, 1), what="running")
    assert client.always_on_status(user=bob) == []
    assert client.always_on_restart(user=bob, task_id=1) is False


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ("nope", "args.tasks: must be a list"),
        ([{"task_id": 1, "command": "a\nb", "log": "x.log"}], "args.tasks[0].command"),
        ([{"task_id": 1, "command": "a", "log": "/etc/x"}], "args.tasks[0].log"),
        ([{"task_id": 1, "command": "a", "log": "../x"}], "args.tasks[0].log"),
        ([{"task_id": 1, "command": "a", "log": ""}], "args.tasks[0].log"),
        ([{"task_id": 0, "command": "a", "log": "x"}], "args.tasks[0].task_id"),
        ([{"task_id": 1, "command": "a", "log": "x", "env": {}}], "args.tasks[0].env"),
        ([task(), task()], "appears twice"),
    ],
)
def test_bad_sets_are_refused_and_nothing_starts(client, keep, alice, tasks, message):
    with pytest.raises(AgentError) as caught:
        keep(alice, tasks)
    assert message in str(caught.value)
    assert client.always_on_status(user=alice) == []


def test_a_changed_command_replaces_the_run_and_an_unchanged_one_runs_on(
    client, harness, keep, alice
):
    keep(alice, [task(), task(2, "sleep 601", "task_logs/always-on-2.log")])
    first = until(lambda: tagged(client, alice, 1), what="task 1")[0]["pid"]
    other = until(lambda: tagged(client, alice, 2), what="task 2")[0]["pid"]
    keep(alice, [task(command="sleep 700"), task(2, "sleep 601", "task_logs/always-on-2.log")])
    procs = until(
        lambda: (p := tagged(client, alice, 1)) and p[0]["pid"] != first and p, what="the new run"
    )
    assert any("700" in " ".join(p["cmdline"]) for p in procs)
    assert [p["pid"] for p in tagged(client, alice, 2)] == [other]


def test_its_cpu_is_counted_in_the_users_cgroup(client, keep, alice):
    before = client.cpu_usage()["users"].get(alice["username"], {}).get("cpu_usec", 0)
    keep(alice, [task(command="timeout 1 sh -c 'while :; do :; done'; exec sleep 600")])
    until(
        lambda: (
            client.cpu_usage()["users"].get(alice["username"], {}).get("cpu_usec", 0) - before
            > 300_000
        ),
        what="its CPU in the user's cgroup",
    )
