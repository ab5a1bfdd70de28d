"""Op ssh_session: an SSH session's shell or command in the user's sandbox, its streams and
its exit status handed back as file descriptors."""

import os

import pytest

from execution_agent.client import AgentError
from execution_agent.testing.harness import PtyReader

pytestmark = pytest.mark.root


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_a_command_gets_three_pipes_and_its_exit_status(client, alice):
    fds = client.ssh_session(user=alice, command="cat; echo oops >&2; exit 5", pty=False)
    assert sorted(fds) == ["status", "stderr", "stdin", "stdout"]
    os.write(fds["stdin"], b"hello from scp\n")
    os.close(fds["stdin"])
    assert read_all(fds["stdout"]) == b"hello from scp\n"
    assert read_all(fds["stderr"]) == b"oops\n"
    assert read_all(fds["status"]) == b"5\n"


def test_a_login_gets_a_terminal_of_the_asked_size_in_the_home(client, alice):
    fds = client.ssh_session(user=alice, command=None, pty=True, rows=33, cols=101, term="vt100")
    assert sorted(fds) == ["pty", "status"]
    reader = PtyReader(fds["pty"])
    os.write(fds["pty"], b"echo at=$(pwd) size=$(stty size) term=$TERM; exit 4\n")
    reader.until(f"at=/home/{alice['username']} size=33 101 term=vt100".encode())
    assert read_all(fds["status"]) == b"4\n"
    os.close(fds["pty"])


def test_a_signal_ends_the_session_with_128_plus_its_number(client, alice):
    fds = client.ssh_session(user=alice, command="kill -KILL $$", pty=False)
    for name in ("stdin", "stdout", "stderr"):
        os.close(fds[name])
    assert read_all(fds["status"]) == b"137\n"


@pytest.mark.parametrize(
    "args, field",
    [
        ({"term": "xterm\nPATH=/evil"}, "term"),
        ({"rows": 0}, "rows"),
        ({"command": "x" * (200 * 1024)}, "command"),
        ({"env": {"LD_PRELOAD": "/tmp/x.so"}}, "env"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(client, alice, args, field):
    with pytest.raises(AgentError) as refused:
        client.call("ssh_session", user=alice, **args)
    assert refused.value.code == "bad_request"
    assert field in refused.value.message
