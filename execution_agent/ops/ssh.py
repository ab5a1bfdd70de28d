"""SSH sessions: a login shell or a command in the user's sandbox, for the SSH gateway.

The gateway's forced command (ssh_gateway/session.py) relays between sshd and what this
returns: a PTY master (interactive logins), or pipes for stdin, stdout and stderr (scp, sftp,
rsync, `ssh host cmd`), plus a pipe that carries the exit status once the sandbox ends. The
sandbox is the one consoles get (sandbox.py: same view, cgroup, /tmp, seccomp, Landlock).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading

from execution_agent.ops import Reply, op
from execution_agent.ops.processes import open_pty
from execution_agent.sandbox import Launch
from execution_agent.validation import MAX_ARG_CHARS, Args, Tag

TERM_RE = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
SSH_TAG = Tag(kind="other", id="ssh")


def session_argv(command: str | None) -> list[str]:
    """A login shell without a command (as sshd runs the user's shell), else `bash -c`."""
    if command is None:
        return ["bash", "-l"]
    return ["bash", "-c", command]


@op("ssh_session", fields=("user", "limits", "command", "pty", "rows", "cols", "term"))
def ssh_session(agent, args: Args) -> Reply:
    """Start an SSH session's shell or command in the user's sandbox; return its PTY (or
    stdin/stdout/stderr pipes) and a `status` pipe that yields its exit status."""
    user = args.user()
    limits = args.limits() if args.has("limits") else None
    command = args.str("command", max_chars=MAX_ARG_CHARS, default=None)
    use_pty = args.bool("pty", default=False)
    rows = args.int("rows", minimum=1, maximum=1000, default=24)
    cols = args.int("cols", minimum=1, maximum=1000, default=80)
    term = args.str("term", pattern=TERM_RE, max_chars=64, default="xterm-256color")
    req = Launch(
        user=user,
        limits=limits,
        argv=session_argv(command),
        cwd=f"/home/{user.username}",
        tag=SSH_TAG,
        term=term if use_pty else "dumb",
    )
    ours: list[int] = []  # the sandbox's ends: closed here once it has started
    theirs: list[tuple[str, int]] = []  # the gateway's ends, sent with the reply
    try:
        if use_pty:
            master, slave = open_pty(rows, cols)
            theirs.append(("pty", master))
            ours.append(slave)
            req.stdin = req.stdout = req.stderr = slave
            req.controlling_tty = True
        else:
            stdin_r, stdin_w = os.pipe()
            stdout_r, stdout_w = os.pipe()
            stderr_r, stderr_w = os.pipe()
            ours += [stdin_r, stdout_w, stderr_w]
            theirs += [("stdin", stdin_w), ("stdout", stdout_r), ("stderr", stderr_r)]
            req.stdin, req.stdout, req.stderr = stdin_r, stdout_w, stderr_w
        launched = agent.sandbox.launch(req)
    except BaseException:
        for _, fd in theirs:
            os.close(fd)
        raise
    finally:
        for fd in ours:
            os.close(fd)
    status_r, status_w = os.pipe()
    theirs.append(("status", status_r))
    threading.Thread(
        target=_report_exit, args=(launched.process, status_w), daemon=True, name="ssh-exit"
    ).start()
    return Reply({"sandbox_pid": launched.process.pid}, fds=theirs)


def _report_exit(process, status_w: int) -> None:
    # Waiting here reaps bwrap too (no reaper.watch): the status is the session's exit code.
    code = process.wait()
    if code < 0:
        code = 128 - code  # killed by a signal, as a shell reports it
    with contextlib.suppress(OSError):
        os.write(status_w, f"{code}\n".encode())
    os.close(status_w)
