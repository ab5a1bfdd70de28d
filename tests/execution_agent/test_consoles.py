"""Consoles: sessions of the user's sandboxed tmux server, attached read-write or read-only."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from execution_agent.client import AgentError
from execution_agent.testing.harness import PtyReader, read_until
from execution_agent.tmux import pty_number

pytestmark = pytest.mark.root


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def capture(client, user, console_id: str) -> str:
    return client.console_capture(user=user, console_id=console_id, lines=200)


@pytest.fixture
def console(client, alice):
    console_id = f"c{os.urandom(6).hex()}"
    assert (
        client.console_start(user=alice, console_id=console_id, argv=["bash"], rows=24, cols=80)
        is True
    )
    assert wait_for(lambda: "@warren:~$" in capture(client, alice, console_id))
    return console_id


def test_starting_a_console_is_idempotent_and_it_is_listed(client, alice, console):
    assert client.console_start(user=alice, console_id=console, argv=["bash"]) is False
    (entry,) = [c for c in client.console_list(user=alice) if c["console_id"] == console]
    assert entry["alive"] is True
    assert abs(entry["created_at"] - time.time()) < 60
    processes = {p["pid"]: p for p in client.processes(user=alice)}
    pane = processes[entry["pane_pid"]]
    assert pane["cmdline"] == ["bash"]
    assert (pane["tag_kind"], pane["tag_id"]) == ("console", console)


def test_a_read_write_attach_shows_output_and_takes_input(client, alice, console):
    master = client.console_attach(
        user=alice, console_id=console, read_only=False, rows=24, cols=80
    )
    try:
        os.write(master, b"echo typed-$((40+2))\r")
        read_until(master, b"typed-42")
        assert "typed-42" in capture(client, alice, console)
    finally:
        os.close(master)


def test_a_read_only_viewer_can_neither_type_nor_resize(client, alice, console):
    owner = client.console_attach(user=alice, console_id=console, read_only=False, rows=24, cols=80)
    viewer = client.console_attach(
        user=alice, console_id=console, read_only=True, rows=50, cols=200
    )
    try:
        watching = PtyReader(viewer)
        watching.until(b"$ ")
        os.write(viewer, b"echo viewer-$((1+1))\r")
        time.sleep(0.5)
        os.write(owner, b"echo owner-$((2+2)); stty size\r")
        watching.until(b"owner-4")  # the viewer does see the owner's output
        screen = wait_for(lambda: (s := capture(client, alice, console)) and "24 80" in s and s)
        assert "viewer-2" not in screen
        assert "24 80" in screen  # the viewer's 200x50 did not resize the window
    finally:
        os.close(owner)
        os.close(viewer)


def test_a_console_survives_its_attached_client_dying(harness, client, alice, console):
    master = client.console_attach(
        user=alice, console_id=console, read_only=False, rows=24, cols=80
    )
    os.write(master, b"echo before-$((3*3))\r")
    read_until(master, b"before-9")
    os.close(master)
    assert wait_for(lambda: not attach_clients(harness, alice, console))  # tmux let it go
    (entry,) = [c for c in client.console_list(user=alice) if c["console_id"] == console]
    assert entry["alive"] is True
    again = client.console_attach(user=alice, console_id=console, read_only=False, rows=24, cols=80)
    try:
        read_until(again, b"before-9")  # the screen is redrawn from tmux's state
    finally:
        os.close(again)


def test_killing_a_console_ends_processes_that_ignore_sighup(harness, client, alice):
    console_id = f"k{os.urandom(6).hex()}"
    stubborn = "(trap '' HUP TERM; exec sleep 1000) & exec sleep 1001"
    client.console_start(user=alice, console_id=console_id, argv=["bash", "-c", stubborn])

    def tagged(program: str = "sleep") -> list[int]:
        # The console's own processes; its page's prepared attach client is tagged too.
        processes = client.processes(user=alice)
        return [
            p["pid"] for p in processes if p["tag_id"] == console_id and p["cmdline"][0] == program
        ]

    assert wait_for(lambda: len(tagged()) == 2)
    result = client.console_kill(user=alice, console_id=console_id, grace=0.3)
    assert result["existed"] is True
    assert wait_for(lambda: not tagged() and not attach_clients(harness, alice, console_id))
    assert console_id not in [c["console_id"] for c in client.console_list(user=alice)]


def test_a_finished_program_leaves_a_dead_console(client, alice):
    console_id = f"d{os.urandom(6).hex()}"
    client.console_start(user=alice, console_id=console_id, argv=["echo", "all done"])

    def entry():
        found = [c for c in client.console_list(user=alice) if c["console_id"] == console_id]
        return found[0] if found and not found[0]["alive"] else None

    assert wait_for(entry)["pane_pid"] is None
    assert "all done" in capture(client, alice, console_id)


def test_another_user_cannot_see_or_attach_a_console(client, alice, bob, console):
    assert console not in [c["console_id"] for c in client.console_list(user=bob)]
    client.console_start(user=bob, console_id=f"b{os.urandom(6).hex()}", argv=["bash"])
    for call in (
        lambda: client.console_attach(
            user=bob, console_id=console, read_only=True, rows=24, cols=80
        ),
        lambda: client.console_capture(user=bob, console_id=console),
    ):
        with pytest.raises(AgentError) as error:
            call()
        assert error.value.code == "not_found"


def test_session_names_are_matched_exactly_not_by_prefix(client, alice, console):
    with pytest.raises(AgentError) as error:
        client.console_capture(user=alice, console_id=console[:-2])
    assert error.value.code == "not_found"


@pytest.mark.parametrize("console_id", ["short", "has space!", "../../etc", "x" * 65, ""])
def test_malformed_console_ids_are_refused(client, alice, console_id):
    with pytest.raises(AgentError) as error:
        client.console_start(user=alice, console_id=console_id, argv=["bash"])
    assert error.value.code == "bad_request"


def test_consoles_survive_a_restart_of_the_agent(harness, alice, console):
    client = harness.client()
    master = client.console_attach(
        user=alice, console_id=console, read_only=False, rows=24, cols=80
    )
    os.write(master, b"echo kept-$((5*5))\r")
    read_until(master, b"kept-25")
    os.close(master)
    harness.stop()
    harness.start()
    (entry,) = [c for c in client.console_list(user=alice) if c["console_id"] == console]
    assert entry["alive"] is True and entry["pane_pid"] is not None
    assert "kept-25" in capture(client, alice, console)


def tmux_as(harness, user, *args: str) -> subprocess.CompletedProcess:
    """A tmux command on the user's server, run as the user (what a console can do)."""
    socket_path = harness.run_dir / "tmux" / str(user["uid"]) / "default"
    uid = user["uid"]
    as_user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    return subprocess.run(
        [*as_user, "tmux", "-S", str(socket_path), *args],
        capture_output=True,
        text=True,
        timeout=10,
    )


def attach_clients(harness, user, console_id: str) -> list[str]:
    """The terminals of the console's attached tmux clients, as its tmux server lists them
    (the agent's own clients are no processes to look for)."""
    result = tmux_as(harness, user, "list-clients", "-t", f"={console_id}", "-F", "#{client_tty}")
    return sorted(result.stdout.split()) if result.returncode == 0 else []


def test_an_attach_client_is_the_agents_own_not_a_process(harness, client, alice, console):
    master = attach(client, alice, console)
    try:
        assert attach_clients(harness, alice, console) == [terminal_of(master)]
        assert not [p for p in client.processes(user=alice) if "attach-session" in p["cmdline"]]
        (entry,) = [c for c in client.console_list(user=alice) if c["console_id"] == console]
        assert entry["clients"] == 1
        os.write(master, "echo ünï-$((2*21))\r".encode())
        read_until(master, "ünï-42".encode())  # UTF-8 both ways: the client says it speaks it
    finally:
        os.close(master)
    assert wait_for(lambda: not attach_clients(harness, alice, console))


def test_a_resize_reaches_tmux_and_only_the_owners_client_is_resized(client, alice, bob, console):
    master = attach(client, alice, console)
    viewer = attach(client, alice, console, read_only=True)
    read_end, write_end = os.pipe()
    try:
        client.console_resize(user=alice, console_id=console, master=master, rows=31, cols=101)
        os.write(master, b"stty size; echo sized-$((6*7))\r")
        assert b"31 101" in read_until(master, b"sized-42")
        for who, fd, code in (
            (alice, viewer, "forbidden"),  # a viewer's window never changes the owner's
            (bob, master, "not_found"),
            (alice, read_end, "bad_request"),
        ):
            with pytest.raises(AgentError) as error:
                client.console_resize(user=who, console_id=console, master=fd, rows=5, cols=5)
            assert error.value.code == code
        os.write(master, b"stty size; echo still-$((6*7))\r")
        assert b"31 101" in read_until(master, b"still-42")
    finally:
        for fd in (master, viewer, read_end, write_end):
            os.close(fd)


def test_the_agent_obeys_no_lock_or_exec_a_tmux_server_sends(harness, client, alice, console):
    # A real client runs the server's lock-command, and detach-client -E's command in its
    # place: as the agent, that would be root. Whatever tmux says, nothing runs.
    marker = harness.base / f"obeyed-{os.urandom(4).hex()}"
    master = attach(client, alice, console)
    try:
        tty = terminal_of(master)
        assert (
            tmux_as(harness, alice, "set", "-g", "lock-command", f"touch {marker}").returncode == 0
        )
        assert tmux_as(harness, alice, "lock-client", "-t", tty).returncode == 0
        time.sleep(0.5)
        assert not marker.exists()
        os.write(master, b"echo unlocked-$((6*7))\r")  # answered UNLOCK: still drawing
        read_until(master, b"unlocked-42")
        tmux_as(harness, alice, "detach-client", "-t", tty, "-E", f"touch {marker}")
        assert wait_for(lambda: not attach_clients(harness, alice, console))  # it just left
        assert not marker.exists()
    finally:
        os.close(master)
    (entry,) = [c for c in client.console_list(user=alice) if c["console_id"] == console]
    assert entry["alive"] is True


def terminal_of(master: int) -> str:
    return f"/dev/pts/{pty_number(master)}"


def test_the_first_attach_takes_the_client_prepared_at_start(harness, client, alice, console):
    # console_start prepared the page's attach client: the attach hands over that one.
    (prepared,) = wait_for(lambda: attach_clients(harness, alice, console))
    master = client.console_attach(
        user=alice, console_id=console, read_only=False, rows=30, cols=100
    )
    try:
        assert attach_clients(harness, alice, console) == [prepared] == [terminal_of(master)]
        os.write(master, b"stty size; echo taken-$((6*7))\r")
        assert b"30 100" in read_until(master, b"taken-42")
        # The next attach is a client of its own.
        second = client.console_attach(
            user=alice, console_id=console, read_only=False, rows=30, cols=100
        )
        os.close(second)
    finally:
        os.close(master)
    assert wait_for(lambda: not attach_clients(harness, alice, console))


def test_a_read_only_attach_never_gets_the_prepared_read_write_client(
    harness, client, alice, console
):
    assert wait_for(lambda: attach_clients(harness, alice, console))
    viewer = client.console_attach(user=alice, console_id=console, read_only=True, rows=24, cols=80)
    try:
        os.write(viewer, b"echo viewer-$((1+1))\r")
        time.sleep(0.5)
        assert "viewer-2" not in capture(client, alice, console)
        assert len(attach_clients(harness, alice, console)) == 2  # prepared one + viewer
    finally:
        os.close(viewer)


def test_killing_a_console_closes_its_prepared_client(harness, client, alice, console):
    assert wait_for(lambda: attach_clients(harness, alice, console))
    client.console_kill(user=alice, console_id=console, grace=0.3)
    assert wait_for(lambda: not attach_clients(harness, alice, console))
    for read_only in (False, True):
        with pytest.raises(AgentError) as error:
            client.console_attach(
                user=alice, console_id=console, read_only=read_only, rows=24, cols=80
            )
        assert error.value.code == "not_found"
    # The client started beside the session check is closed again, not left attached to nothing.
    assert wait_for(lambda: not attach_clients(harness, alice, console))


def test_tmux_commands_are_the_agents_own_client_not_a_process(client, alice, console):
    for _ in range(3):
        client.console_list(user=alice)
        capture(client, alice, console)
    # No runner shell and no tmux client process: only the server and the console's shell.
    programs = sorted(p["cmdline"][0] for p in client.processes(user=alice))
    assert programs == ["bash", "tmux"], programs


def test_a_command_with_quotes_newlines_and_dollars_reaches_the_console_as_typed(client, alice):
    console_id = f"q{os.urandom(6).hex()}"
    script = "printf '%s|' \"a  b\" '$HOME' 'x\\\\y'\necho; echo \"done-$((6*7))\""
    client.console_start(user=alice, console_id=console_id, argv=["bash", "-c", script])
    screen = wait_for(lambda: (s := capture(client, alice, console_id)) and "done-42" in s and s)
    assert "a  b|$HOME|x\\\\y|" in screen


# --- console_park: a dashboard process going away hands its attach clients back ------------


def attach(client, user, console_id: str, read_only: bool = False) -> int:
    return client.console_attach(
        user=user, console_id=console_id, read_only=read_only, rows=24, cols=80
    )


def test_a_parked_client_is_taken_by_the_next_attach(harness, client, alice, console):
    master = attach(client, alice, console)
    (tty,) = wait_for(lambda: attach_clients(harness, alice, console))
    assert client.console_park(user=alice, console_id=console, master=master) is True
    os.close(master)  # the agent holds its own copy now: the client stays attached
    time.sleep(0.3)
    assert attach_clients(harness, alice, console) == [tty]
    again = attach(client, alice, console)
    try:
        assert attach_clients(harness, alice, console) == [tty]
        os.write(again, b"echo parked-$((40+2))\r")
        read_until(again, b"parked-42")
    finally:
        os.close(again)
    assert wait_for(lambda: not attach_clients(harness, alice, console))


def test_a_parked_client_nobody_takes_is_closed(harness, client, alice, console):
    master = attach(client, alice, console)
    assert client.console_park(user=alice, console_id=console, master=master, seconds=0.5)
    os.close(master)
    assert wait_for(lambda: not attach_clients(harness, alice, console), timeout=5)


def test_read_only_and_read_write_attaches_never_take_each_others_parked_client(
    harness, client, alice, console
):
    writer = attach(client, alice, console)
    (writer_tty,) = wait_for(lambda: attach_clients(harness, alice, console))
    client.console_park(user=alice, console_id=console, master=writer)
    os.close(writer)
    viewer = attach(client, alice, console, read_only=True)
    try:
        pids = wait_for(lambda: len(attach_clients(harness, alice, console)) == 2)
        assert pids, "the viewer got a client of its own"
        os.write(viewer, b"echo viewer-$((1+1))\r")
        time.sleep(0.5)
        assert "viewer-2" not in capture(client, alice, console)
        (viewer_tty,) = set(attach_clients(harness, alice, console)) - {writer_tty}
        # The viewer's client parked: a read-write attach leaves it and takes the writer's.
        client.console_park(user=alice, console_id=console, master=viewer)
        os.close(viewer)
        viewer = None
        writer = attach(client, alice, console)
        try:
            assert sorted(attach_clients(harness, alice, console)) == sorted(
                [writer_tty, viewer_tty]
            )
            os.write(writer, b"echo writer-$((2+2))\r")
            read_until(writer, b"writer-4")
            viewer = attach(client, alice, console, read_only=True)  # takes the parked viewer
            assert sorted(attach_clients(harness, alice, console)) == sorted(
                [writer_tty, viewer_tty]
            )
        finally:
            os.close(writer)
    finally:
        if viewer is not None:
            os.close(viewer)
    assert wait_for(lambda: not attach_clients(harness, alice, console))


def test_another_user_can_neither_park_nor_take_a_client(harness, client, alice, bob, console):
    master = attach(client, alice, console)
    try:
        with pytest.raises(AgentError) as error:
            client.console_park(user=bob, console_id=console, master=master)
        assert error.value.code == "not_found"
        client.console_park(user=alice, console_id=console, master=master)
    finally:
        os.close(master)
    with pytest.raises(AgentError) as error:
        attach(client, bob, console)
    assert error.value.code == "not_found"
    assert len(attach_clients(harness, alice, console)) == 1  # still parked for alice


def test_parking_something_that_is_not_an_attach_client_is_refused(client, alice, console):
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(AgentError) as error:
            client.console_park(user=alice, console_id=console, master=read_end)
        assert error.value.code == "bad_request"
    finally:
        os.close(read_end)
        os.close(write_end)
    master, slave = os.openpty()  # a terminal, but none the agent attached
    try:
        with pytest.raises(AgentError) as error:
            client.console_park(user=alice, console_id=console, master=master)
        assert error.value.code == "not_found"
    finally:
        os.close(master)
        os.close(slave)


def test_an_op_that_takes_no_fds_refuses_a_request_carrying_one(client):
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(AgentError) as error:
            client.call_with_fds("info", [read_end])
        assert error.value.code == "bad_request"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_concurrent_attaches_each_get_their_console_or_not_found(client, alice, console):
    other = f"c{os.urandom(6).hex()}"
    client.console_start(user=alice, console_id=other, argv=["bash"])
    prepared = attach(client, alice, console)  # takes the prepared clients out of the way
    prepared_other = attach(client, alice, other)
    missing = f"c{os.urandom(6).hex()}"

    def one(console_id: str):
        try:
            return attach(client, alice, console_id)
        except AgentError as exc:
            return exc.code

    wanted = [console, other, missing] * 4
    with ThreadPoolExecutor(len(wanted)) as pool:
        results = list(pool.map(one, wanted))
    try:
        for console_id, result in zip(wanted, results, strict=True):
            if console_id == missing:
                assert result == "not_found"
            else:
                assert isinstance(result, int), result
                os.write(result, b"echo $WARREN_TAG_ID\r")
                read_until(result, console_id.encode())
    finally:
        for fd in [prepared, prepared_other, *results]:
            if isinstance(fd, int):
                os.close(fd)
        client.console_kill(user=alice, console_id=other, grace=0.3)
