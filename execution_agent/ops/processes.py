"""Operations that start, list and signal a user's sandboxed processes."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import struct
import subprocess
import termios
import threading
import time

from execution_agent import procs
from execution_agent.errors import not_found
from execution_agent.homefs import sandbox_cwd
from execution_agent.ops import Reply, op
from execution_agent.output import OUTPUT_CAP, collect_output
from execution_agent.sandbox import Launch
from execution_agent.validation import Args, Tag, UserRef

LAUNCH_FIELDS = ("user", "limits", "argv", "cwd", "env", "tag")
DEFAULT_TAG = Tag(kind="other", id="none")

log = logging.getLogger("execution_agent")


def launch_from_args(agent, args: Args, **overrides) -> Launch:
    """The Launch described by the common spawn/run arguments."""
    user = args.user()
    return Launch(
        user=user,
        limits=args.limits() if args.has("limits") else None,
        argv=args.argv(),
        cwd=sandbox_cwd(agent, user, args.str("cwd", default=None)),
        env=args.env(),
        tag=args.tag(default=DEFAULT_TAG),
        **overrides,
    )


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def open_pty(rows: int, cols: int) -> tuple[int, int]:
    master, slave = os.openpty()
    os.set_inheritable(master, False)
    set_winsize(master, rows, cols)
    return master, slave


@op("spawn", fields=(*LAUNCH_FIELDS, "pty", "rows", "cols"))
def spawn(agent, args: Args) -> Reply:
    """Start a sandboxed process for a user, optionally on a new PTY whose master is returned."""
    use_pty = args.bool("pty", default=False)
    rows = args.int("rows", minimum=1, maximum=1000, default=24)
    cols = args.int("cols", minimum=1, maximum=1000, default=80)
    req = launch_from_args(agent, args)
    master = slave = None
    if use_pty:
        master, slave = open_pty(rows, cols)
        req.stdin = req.stdout = req.stderr = slave
        req.controlling_tty = True
        req.term = req.env.get("TERM", "xterm-256color")
    try:
        launched = agent.sandbox.launch(req)
    except BaseException:
        if master is not None:
            os.close(master)
        raise
    finally:
        if slave is not None:
            os.close(slave)
    pid = agent.sandbox.command_pid(launched)
    result = {"pid": pid, "sandbox_pid": launched.process.pid}
    if pid is None:
        # Already over: the command was quick, or the sandbox could not be set up.
        result["returncode"] = launched.process.wait()
    else:
        agent.reaper.watch(launched.process)
    return Reply(result, fds=[("pty", master)] if master is not None else [])


@op("run", fields=(*LAUNCH_FIELDS, "timeout", "stdin"))
def run(agent, args: Args) -> Reply:
    """Run a sandboxed command to completion and return its exit status and output."""
    timeout = args.number("timeout", minimum=0.1, maximum=300, default=60)
    stdin_text = args.str("stdin", max_chars=OUTPUT_CAP, default=None)
    req = launch_from_args(
        agent,
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        die_with_parent=True,
        stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
    )
    launched = agent.sandbox.launch(req)
    stdin_bytes = stdin_text.encode() if stdin_text is not None else None
    out, err, timed_out = collect_output(launched.process, stdin_bytes, timeout)
    return Reply(
        {
            "returncode": launched.process.returncode,
            "stdout": out[:OUTPUT_CAP].decode("utf-8", "replace"),
            "stderr": err[:OUTPUT_CAP].decode("utf-8", "replace"),
            "stdout_truncated": len(out) > OUTPUT_CAP,
            "stderr_truncated": len(err) > OUTPUT_CAP,
            "timed_out": timed_out,
        }
    )


@op("processes", fields=("user",))
def processes(agent, args: Args) -> Reply:
    """List the user's processes (real uid), with CPU, memory, start time and tag."""
    user = args.user()
    bwrap_id = _file_id(agent.sandbox.bwrap)
    listed = []
    for status in agent.user_processes(user):
        # bubblewrap's own monitor and pid-1 reaper are plumbing, not the user's programs.
        if bwrap_id is not None and _file_id(f"/proc/{status.pid}/exe") == bwrap_id:
            continue
        described = procs.describe(status)
        if described is not None:
            listed.append(described)
    return Reply({"processes": listed})


def _file_id(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@op("signal", fields=("user", "pid", "signal"))
def signal_process(agent, args: Args) -> Reply:
    """Send TERM, KILL, INT or HUP to one of the user's processes."""
    user = args.user()
    pid = args.int("pid", minimum=1, maximum=2**22)
    signum = procs.SIGNALS[args.choice("signal", tuple(procs.SIGNALS))]
    with procs.owned_pidfd(pid, user.uid) as pidfd:
        if pidfd is None or not procs.send(pidfd, signum):
            raise not_found(f"no process {pid} of {user.username}")
    return Reply({"signalled": True})


@op("terminate", fields=("user", "pid", "grace"))
def terminate(agent, args: Args) -> Reply:
    """SIGTERM one of the user's processes now and SIGKILL it after grace seconds."""
    user = args.user()
    pid = args.int("pid", minimum=1, maximum=2**22)
    grace = args.number("grace", minimum=0, maximum=30, default=5)
    with procs.owned_pidfd(pid, user.uid) as pidfd:
        if pidfd is None or not procs.send(pidfd, signal.SIGTERM):
            raise not_found(f"no process {pid} of {user.username}")
        procs.terminate_later([os.dup(pidfd)], grace)
    return Reply({"signalled": True})


def signal_tagged(agent, user: UserRef, tag: Tag, signum: int) -> list[int]:
    """Signal every live process of the user carrying tag; return the pids reached."""
    reached = []
    for status in agent.user_processes(user):
        if procs.read_tag(status.pid) != (tag.kind, tag.id):
            continue
        with procs.owned_pidfd(status.pid, user.uid) as pidfd:
            if pidfd is not None and procs.send(pidfd, signum):
                reached.append(status.pid)
    return reached


class _Sweep:
    """A pending KILL of a tag's processes; ``finish_pending_kills`` runs it early."""

    def __init__(self) -> None:
        self.cancelled = False
        self.running = threading.Lock()


# (uid, kind, id) -> sweeps not yet run: a console started again under the same id (a
# restart) must not have its new processes killed by the old session's sweep.
_pending_sweeps: dict[tuple[int, str, str], list[_Sweep]] = {}
_pending_lock = threading.Lock()


def _kill_until_gone(agent, user: UserRef, tag: Tag) -> None:
    for _ in range(20):
        if not signal_tagged(agent, user, tag, signal.SIGKILL):
            return
        time.sleep(0.05)


def kill_tagged_tree(agent, user: UserRef, tag: Tag, grace: float) -> list[int]:
    """TERM the tagged processes now; after grace, KILL until none is left (forks included)."""
    reached = signal_tagged(agent, user, tag, signal.SIGTERM)
    key = (user.uid, tag.kind, tag.id)
    pending = _Sweep()
    with _pending_lock:
        _pending_sweeps.setdefault(key, []).append(pending)

    def sweep() -> None:
        with pending.running:
            with _pending_lock:
                sweeps = _pending_sweeps.get(key, [])
                if pending in sweeps:
                    sweeps.remove(pending)
                if not sweeps:
                    _pending_sweeps.pop(key, None)
            if not pending.cancelled:
                _kill_until_gone(agent, user, tag)

    procs.terminate_later([], grace, rescan=sweep)
    return reached


def finish_pending_kills(agent, user: UserRef, tag: Tag) -> None:
    """KILL now what a pending kill of ``tag`` would KILL later, and cancel that kill.

    Called before processes are started under a tag that was just killed (console_start
    after console_kill: a restart, a move's final pass), so the old sweep cannot reach them.
    """
    with _pending_lock:
        sweeps = _pending_sweeps.pop((user.uid, tag.kind, tag.id), [])
    if not sweeps:
        return
    for pending in sweeps:
        pending.cancelled = True
    for pending in sweeps:
        with pending.running:  # one already killing finishes before anything new starts
            pass
    _kill_until_gone(agent, user, tag)


def kill_if_wedged(agent, user: UserRef) -> list[int] | None:
    """Kill the user's whole cgroup if it is at pids.max; None if it is not.

    At pids.max nothing of the user's can start, not even the sandboxed tmux client that ends
    a session (a stopped sandbox init piling up zombies gets there): killing everything is
    the one way Kill still works, and the next console starts a fresh sandbox.
    """
    if not agent.cgroups_active or not agent.cgroups.pids_exhausted(user.username):
        return None
    killed = agent.cgroups.kill_all(user.username, user.uid)
    log.warning(
        "uid %d was at pids.max: killed its whole cgroup (%d processes)", user.uid, len(killed)
    )
    return killed


@op("kill_tagged", fields=("user", "tag", "grace"))
def kill_tagged(agent, args: Args) -> Reply:
    """End every process of the user carrying a tag: TERM now, KILL after grace."""
    user = args.user()
    tag = args.tag()
    grace = args.number("grace", minimum=0, maximum=30, default=2)
    wedged = kill_if_wedged(agent, user)
    if wedged is not None:
        return Reply({"pids": wedged})
    return Reply({"pids": kill_tagged_tree(agent, user, tag, grace)})
