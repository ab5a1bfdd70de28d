"""task_start, task_results, task_kill: scheduled runs in the sandbox, waited for off the socket."""

from __future__ import annotations

import time

import pytest

from execution_agent.client import AgentError

pytestmark = pytest.mark.root

_ids = (f"run{number:08d}" for number in range(1, 1_000_000))


def start(client, user, command, *, wall=30.0, log="task_logs/t.log", max_bytes=1 << 20, **ids):
    run_id = ids.get("run_id") or next(_ids)
    return run_id, client.task_start(
        user=user,
        task_id=ids.get("task_id", 7),
        run_id=run_id,
        command=command,
        log=log,
        wall_seconds=wall,
        log_max_bytes=max_bytes,
    )


def finished(client, run_id, timeout=20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for result in client.task_results()["finished"]:
            if result["run_id"] == run_id:
                client.task_results(forget=[run_id])
                return result
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} did not finish")  # pragma: no cover


def test_a_run_writes_its_output_between_a_header_and_a_footer_as_the_user(client, harness, alice):
    run_id, answer = start(client, alice, "echo hello from $(id -u); echo oops >&2; exit 3")
    assert answer["started"] is True
    result = finished(client, run_id)
    assert result["state"] == "done" and result["exit_status"] == 3
    path = harness.homes / alice["username"] / "task_logs" / "t.log"
    text = path.read_text()
    assert f"task 7 run {run_id} started: echo hello" in text
    assert f"hello from {alice['uid']}" in text and "oops" in text
    assert "exit status 3, CPU" in text
    assert path.stat().st_uid == alice["uid"]


def test_the_socket_answers_while_a_run_is_going(client, alice):
    run_id, answer = start(client, alice, "sleep 30")
    assert answer["started"] and answer["pid"]
    began = time.monotonic()
    assert run_id in client.task_results()["running"]
    assert time.monotonic() - began < 5
    assert client.task_kill(user=alice, run_id=run_id) is True
    assert finished(client, run_id)["exit_status"] != 0


def test_a_run_past_its_wall_limit_is_killed_and_the_log_says_so(client, harness, alice):
    run_id, _ = start(client, alice, "echo before; sleep 60; echo after", wall=1)
    result = finished(client, run_id)
    assert result["state"] == "killed"
    text = (harness.homes / alice["username"] / "task_logs" / "t.log").read_text()
    assert "\nbefore\n" in text and "\nafter\n" not in text
    assert "killed at the wall-clock limit of 1 s" in text


def test_cpu_used_by_a_run_is_reported_and_counted_in_the_users_cgroup(client, alice):
    before = client.cpu_usage()["users"].get(alice["username"], {}).get("cpu_usec", 0)
    # Half a second of CPU, however long a loaded machine takes to give it (a wall-clock loop
    # got 0.2 s of CPU in CI).
    burn = (
        "import time; t = time.process_time(); "
        "any(iter(lambda: time.process_time() - t > 0.5, True))"
    )
    run_id, _ = start(client, alice, f"python3 -c '{burn}'")
    result = finished(client, run_id)
    assert result["cpu_seconds"] > 0.3
    after = client.cpu_usage()["users"][alice["username"]]["cpu_usec"]
    assert after - before > 300_000


def test_the_same_run_id_never_starts_twice(client, alice):
    run_id, first = start(client, alice, "true")
    _, second = start(client, alice, "true", run_id=run_id)
    assert first["started"] is True and second["started"] is False
    finished(client, run_id)


def test_the_log_is_rotated_past_its_size_limit(client, harness, alice):
    folder = harness.homes / alice["username"] / "task_logs"
    run_id, _ = start(client, alice, "head -c 3000 /dev/zero | tr '\\0' x", max_bytes=1024)
    finished(client, run_id)
    run_id, _ = start(client, alice, "echo second", max_bytes=1024)
    finished(client, run_id)
    assert "second" in (folder / "t.log").read_text()
    assert "xxxx" in (folder / "t.log.1").read_text()
    assert "xxxx" not in (folder / "t.log").read_text()


def test_a_log_symlinked_out_of_the_home_is_refused(client, harness, alice):
    home = harness.homes / alice["username"]
    (home / "escape").symlink_to("/etc")
    with pytest.raises(AgentError) as refused:
        start(client, alice, "true", log="escape/passwd")
    assert refused.value.code in ("forbidden", "not_found", "failed")


@pytest.mark.parametrize(
    "change",
    [
        {"command": "echo a\necho b"},
        {"command": "echo\0"},
        {"command": ""},
        {"log": "../other/x.log"},
        {"log": "/etc/passwd"},
        {"log": ""},
        {"wall_seconds": 0},
        {"log_max_bytes": 10},
        {"run_id": 1},
        {"run_id": "../../etc"},
        {"surprise": 1},
    ],
)
def test_bad_fields_are_refused(client, alice, change):
    args = {
        "user": alice,
        "task_id": 1,
        "run_id": next(_ids),
        "command": "true",
        "log": "task_logs/x.log",
        "wall_seconds": 10,
        "log_max_bytes": 4096,
        **change,
    }
    with pytest.raises(AgentError) as refused:
        client.call("task_start", **args)
    assert refused.value.code in ("bad_request", "forbidden")


def test_many_quick_runs_all_finish_and_report(client, alice):
    # Quick runs may be reaped by the start's own pid lookup before their thread waits.
    run_ids = [start(client, alice, "true")[0] for _ in range(20)]
    results = [finished(client, run_id) for run_id in run_ids]
    assert [result["exit_status"] for result in results] == [0] * 20
