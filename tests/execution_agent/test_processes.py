"""spawn, run, processes, signal, terminate, kill_tagged: the Processes page's building blocks."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time

import pytest

from execution_agent.client import AgentError
from execution_agent.testing.harness import PtyReader

pytestmark = pytest.mark.root


def wait_gone(client, user, pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid not in [p["pid"] for p in client.processes(user=user)]:
            return True
        time.sleep(0.05)
    return False


def wait_listed(client, user, pid: int, timeout: float = 5.0) -> dict:
    """The listing once ``pid`` is in it: spawn answers when the sandboxed process exists,
    which on a loaded machine can be a moment before it has exec'd its command (until then
    it is still bwrap, and bwrap's processes are not listed)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = {p["pid"]: p for p in client.processes(user=user)}
        if pid in listed or time.monotonic() > deadline:
            return listed
        time.sleep(0.02)


def test_a_spawned_process_is_listed_with_its_details_and_tag(client, alice):
    before = time.time()
    pid = client.spawn(user=alice, argv=["sleep", "1000"], tag={"kind": "task", "id": "nightly-7"})[
        "pid"
    ]
    listed = wait_listed(client, alice, pid)
    entry = listed[pid]
    assert entry["cmdline"] == ["sleep", "1000"]
    assert (entry["tag_kind"], entry["tag_id"]) == ("task", "nightly-7")
    assert before - 2 <= entry["started_at"] <= time.time() + 1
    assert entry["rss_bytes"] > 0 and entry["cpu_seconds"] >= 0
    assert not any("bwrap" in " ".join(p["cmdline"]) for p in listed.values())


def test_terminate_ends_a_process_that_ignores_sigterm(client, alice):
    pid = client.spawn(user=alice, argv=["bash", "-c", "trap '' TERM; sleep 1000"])["pid"]
    time.sleep(0.2)  # let bash install its trap
    client.terminate(user=alice, pid=pid, grace=0.3)
    assert wait_gone(client, alice, pid)


def test_signal_delivers_the_named_signal(client, harness, alice):
    script = "trap 'echo got-int > ~/int.txt; exit 0' INT; while true; do sleep 0.05; done"
    pid = client.spawn(user=alice, argv=["bash", "-c", script])["pid"]
    time.sleep(0.3)
    client.signal(user=alice, pid=pid, signal="INT")
    assert wait_gone(client, alice, pid)
    assert (harness.homes / alice["username"] / "int.txt").read_text() == "got-int\n"


def test_an_outsider_cannot_kill_and_gets_not_found(client, alice, bob):
    pid = client.spawn(user=alice, argv=["sleep", "1000"])["pid"]
    for call in (
        lambda: client.terminate(user=bob, pid=pid, grace=0),
        lambda: client.signal(user=bob, pid=pid, signal="KILL"),
    ):
        with pytest.raises(AgentError) as error:
            call()
        assert error.value.code == "not_found"
    assert pid in wait_listed(client, alice, pid)


def test_signalling_a_pid_that_is_not_a_user_process_is_not_found(client, alice):
    with pytest.raises(AgentError) as error:
        client.signal(user=alice, pid=1, signal="TERM")
    assert error.value.code == "not_found"


def test_kill_tagged_ends_the_whole_tree_including_stubborn_children(client, alice):
    tag = {"kind": "console", "id": "console-abc123"}
    script = "(trap '' HUP TERM; sleep 1000) & (sleep 1001) & sleep 1002"
    client.spawn(user=alice, argv=["bash", "-c", script], tag=tag)
    other = client.spawn(user=alice, argv=["sleep", "1003"], tag={"kind": "task", "id": "t"})
    time.sleep(0.3)
    tagged = [p["pid"] for p in client.processes(user=alice) if p["tag_id"] == tag["id"]]
    assert len(tagged) >= 4
    reached = client.kill_tagged(user=alice, tag=tag, grace=0.3)
    assert set(tagged) <= set(reached)
    for pid in tagged:
        assert wait_gone(client, alice, pid)
    assert other["pid"] in wait_listed(client, alice, other["pid"])


def test_run_returns_status_and_output_and_feeds_stdin(client, alice):
    result = client.run(
        user=alice, argv=["bash", "-c", "cat; echo err >&2; exit 3"], stdin="from stdin\n"
    )
    assert result == {
        "returncode": 3,
        "stdout": "from stdin\n",
        "stderr": "err\n",
        "stdout_truncated": False,
        "stderr_truncated": False,
        "timed_out": False,
    }


def test_run_caps_output_at_one_mebibyte(client, alice):
    result = client.run(user=alice, argv=["python3", "-c", "print('x' * (3 << 20))"])
    assert result["stdout_truncated"] is True
    assert len(result["stdout"]) == 1 << 20


def test_run_times_out_and_kills_the_whole_sandbox(client, alice):
    started = time.monotonic()
    result = client.run(user=alice, argv=["bash", "-c", "sleep 1000 & sleep 1001"], timeout=0.5)
    assert result["timed_out"] is True
    assert time.monotonic() - started < 5
    time.sleep(0.2)
    assert not [p for p in client.processes(user=alice) if "sleep" in p["cmdline"]]


def test_run_honours_cwd_inside_the_home(client, harness, alice):
    (harness.homes / alice["username"] / "project").mkdir()
    result = client.run(user=alice, argv=["pwd"], cwd=f"/home/{alice['username']}/project")
    assert result["stdout"] == f"/home/{alice['username']}/project\n"


@pytest.mark.parametrize(
    ("cwd", "code"),
    [
        ("/etc", "forbidden"),
        ("/home/other-user", "forbidden"),
        ("relative", "bad_request"),
        ("/home/{name}/../../etc", "forbidden"),
        ("/home/{name}/missing", "not_found"),
    ],
)
def test_run_refuses_a_cwd_outside_the_home(client, alice, cwd, code):
    with pytest.raises(AgentError) as error:
        client.run(user=alice, argv=["pwd"], cwd=cwd.format(name=alice["username"]))
    assert error.value.code == code


def test_pty_spawn_gives_an_interactive_bash_with_job_control(client, alice):
    result, master = client.spawn_pty(
        user=alice, argv=["bash", "-i"], rows=24, cols=80, env={"TERM": "xterm-256color"}
    )
    pty = PtyReader(master)
    try:
        assert result["pid"] > 0
        os.write(master, b"echo $TERM; set -o | grep monitor\n")
        pty.until(b"monitor        \ton\r\n")
        pty.until(b"$ ")
        os.write(master, b"sleep 1000\n")
        pty.until(b"sleep 1000\r\n")
        # Ctrl-Z stops the foreground job only with a controlling terminal and job control.
        # Bash itself ignores it, so repeat until sleep has become the foreground job.
        for _ in range(25):
            os.write(master, b"\x1a")
            try:
                pty.until(b"Stopped                 sleep 1000", timeout=0.2)
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("Ctrl-Z never stopped the foreground job")
        os.write(master, b"jobs; kill %1; echo done-$((6*7))\n")
        output = pty.until(b"done-42")
        assert b"sleep 1000" in output
        assert b"no job control" not in output
    finally:
        os.close(master)


def test_resizing_the_pty_delivers_sigwinch(client, alice):
    _, master = client.spawn_pty(user=alice, argv=["bash", "-i"], rows=24, cols=80)
    pty = PtyReader(master)
    try:
        # The kernel signals the terminal's foreground process group: this program.
        waiter = (
            "import os, signal; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGWINCH]); "
            "print('ARMED', flush=True); signal.sigwait([signal.SIGWINCH]); "
            "print('WINCH', *os.get_terminal_size())"
        )
        os.write(master, f'python3 -c "{waiter}"\n'.encode())
        pty.until(b"ARMED\r\n")
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
        pty.until(b"WINCH 132 40")
    finally:
        os.close(master)


def test_closing_the_pty_master_ends_the_shell(client, alice):
    result, master = client.spawn_pty(user=alice, argv=["bash", "-i"], rows=24, cols=80)
    PtyReader(master).until(b"$ ")
    os.close(master)
    assert wait_gone(client, alice, result["pid"])


def test_a_command_that_is_over_at_once_reports_its_status(client, alice):
    result = client.spawn(user=alice, argv=["bash", "-c", "exit 7"])
    assert result["pid"] is None or result["pid"] > 0
    if result["pid"] is None:
        assert result["returncode"] == 7


def test_a_missing_program_is_reported_by_run(client, alice):
    result = client.run(user=alice, argv=["no-such-program"])
    assert result["returncode"] == 1
    assert "execvp no-such-program" in result["stderr"]
