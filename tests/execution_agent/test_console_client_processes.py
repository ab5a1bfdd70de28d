"""Consoles on an agent whose attach clients are sandboxed tmux processes.

WARREN_CONSOLE_CLIENT_PROCESSES=1, and what the agent falls back to by itself when the system's
tmux speaks a client protocol it does not know: every console feature still works.
"""

from __future__ import annotations

import os
import uuid

import pytest

from execution_agent.client import AgentError
from execution_agent.testing.harness import AgentHarness, read_until
from tests.execution_agent.test_consoles import attach, attach_clients, wait_for

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
