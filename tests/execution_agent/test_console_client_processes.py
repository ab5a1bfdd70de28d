"""Consoles on an agent whose attach clients are sandboxed tmux processes.

WARREN_CONSOLE_CLIENT_PROCESSES=1, and what the agent falls back to by itself when the system's
tmux speaks a client protocol it does not know: attach clients are sandboxed tmux processes and
tmux commands run through the user's sandboxed runner shell; every console feature still works.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from execution_agent.client import AgentError
from execution_agent.testing.harness import AgentHarness, read_until
from tests.execution_agent.test_consoles import attach, attach_clients, capture, wait_for

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def harness(uid_base, django_uid, socket_gid):
    """This module's own agent (overriding the session's), launching attach processes."""
    agent = AgentHarness(
        uid_base=uid_base + 11_000,
        cgroup_prefix=f"warren-test-{uuid.uuid4().hex[:10]}",
        allowed_uids=(0, django_uid),
        socket_group=socket_gid,
        extra_env={"WARREN_CONSOLE_CLIENT_PROCESSES": "1"},
    )
    with agent.running():
        yield agent


@pytest.fixture
def console(client, alice):
    console_id = f"p{os.urandom(6).hex()}"
    client.console_start(user=alice, console_id=console_id, argv=["bash"])
    assert wait_for(lambda: "@warren:~$" in capture(client, alice, console_id))
    return console_id


def client_processes(client, user, console_id: str) -> list[int]:
    return [
        p["pid"]
        for p in client.processes(user=user)
        if "attach-session" in p["cmdline"] and p["tag_id"] == console_id
    ]


def test_an_attach_is_a_sandboxed_client_process_that_resizes_and_parks(
    harness, client, alice, console
):
    master = attach(client, alice, console)  # takes the client prepared at start
    try:
        (pid,) = wait_for(lambda: client_processes(client, alice, console))
        # Inside its sandbox the client's terminal is /dev/console: one client, that one.
        assert len(attach_clients(harness, alice, console)) == 1
        client.console_resize(user=alice, console_id=console, master=master, rows=33, cols=99)
        os.write(master, b"stty size; echo sized-$((6*7))\r")
        assert b"33 99" in read_until(master, b"sized-42")
        assert client.console_park(user=alice, console_id=console, master=master) is True
    finally:
        os.close(master)
    again = attach(client, alice, console)
    try:
        assert client_processes(client, alice, console) == [pid]  # the parked one, taken
        os.write(again, b"echo parked-$((40+2))\r")
        read_until(again, b"parked-42")
    finally:
        os.close(again)
    assert wait_for(lambda: not client_processes(client, alice, console))


def test_an_attach_of_a_missing_console_is_not_found(client, alice, console):
    with pytest.raises(AgentError) as error:
        attach(client, alice, f"p{os.urandom(6).hex()}")
    assert error.value.code == "not_found"
    # ...and no client process is left behind for it.
    assert wait_for(lambda: len(client_processes(client, alice, console)) <= 1)


def runner_pids(client, user) -> list[int]:
    """The user's tmux runner (bash, inside its bubblewrap): the sandbox tmux commands run in."""
    return [
        p["pid"]
        for p in client.processes(user=user)
        if p["tag_id"] == "tmux-runner" and p["cmdline"][:1] == ["bash"]
    ]


def test_tmux_commands_share_one_sandboxed_runner_per_user(client, alice, console):
    for _ in range(3):
        client.console_list(user=alice)
        capture(client, alice, console)
    assert len(runner_pids(client, alice)) == 1


def test_a_dead_runner_is_replaced_and_the_command_still_runs(client, alice, console):
    (first,) = wait_for(lambda: runner_pids(client, alice))
    os.kill(first, 9)
    wait_for(lambda: first not in runner_pids(client, alice))
    assert "@warren:~$" in capture(client, alice, console)
    assert wait_for(lambda: runner_pids(client, alice)) != [first]


def test_commands_at_once_start_a_single_runner(harness, alice, console):
    for pid in runner_pids(harness.client(), alice):
        os.kill(pid, 9)
    assert wait_for(lambda: not runner_pids(harness.client(), alice))
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: harness.client().console_list(user=alice), range(6)))
    assert all(console in [c["console_id"] for c in answer] for answer in answers)
    assert len(runner_pids(harness.client(), alice)) == 1
