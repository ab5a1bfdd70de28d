"""One tmux server per user, running inside that user's sandbox; consoles are its sessions.

Every tmux *client* the agent runs is sandboxed too: the socket directory is the user's, so
whatever answers on it is user-controlled, and a tmux client obeys a server's MSG_EXEC/SHELL
(it execs a shell command). Outside a sandbox that would be an escape.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import stat
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

from execution_agent import creds, identity, procs
from execution_agent.errors import OpError
from execution_agent.output import collect_output
from execution_agent.sandbox import Launch
from execution_agent.validation import Limits, Tag, UserRef

SANDBOX_DIR = "/run/warren/tmux"
SANDBOX_CONF = "/run/warren/tmux.conf"
SERVER_TAG = Tag(kind="other", id="tmux-server")
CONFIG = """\
set -g status off
set -g prefix None
set -g prefix2 None
unbind-key C-b
set -g history-limit 50000
set -g window-size latest
set -g default-terminal "tmux-256color"
set -s escape-time 0
set -s exit-empty off
set -g destroy-unattached off
set -g remain-on-exit on
"""


class TmuxError(OpError):
    pass


class Tmux:
    def __init__(self, agent) -> None:
        self.agent = agent
        self.conf = agent.config.run_dir / "tmux.conf"
        self.conf.write_text(CONFIG)
        os.chmod(self.conf, 0o644)
        self._locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        # uid -> the other users' homes bound into that user's running tmux server (a
        # teacher's students). Mounts cannot be added to a running sandbox: a changed set
        # takes effect when the server starts again.
        self._homes: dict[int, tuple[str, ...]] = {}

    def lock(self, user: UserRef) -> threading.Lock:
        """Serialises server start and session creation per user."""
        with self._guard:
            return self._locks[user.uid]

    def host_dir(self, user: UserRef) -> Path:
        path = self.agent.config.run_dir / "tmux" / str(user.uid)
        path.mkdir(mode=0o700, exist_ok=True)
        if self.agent.root:
            st = os.lstat(path)
            if st.st_uid != user.uid or stat.S_IMODE(st.st_mode) != 0o700:
                os.chown(path, user.uid, user.gid, follow_symlinks=False)
                os.chmod(path, 0o700)
        return path

    def socket_path(self, user: UserRef) -> str:
        if self.agent.sandboxed:
            return f"{SANDBOX_DIR}/default"
        return str(self.host_dir(user) / "default")

    def _binds(self, user: UserRef) -> tuple[tuple[str, str, str], ...]:
        return (
            ("--bind", str(self.host_dir(user)), SANDBOX_DIR),
            ("--ro-bind", str(self.conf), SANDBOX_CONF),
        )

    def _conf_path(self) -> str:
        return SANDBOX_CONF if self.agent.sandboxed else str(self.conf)

    def server_alive(self, user: UserRef) -> bool:
        """Whether something accepts connections on the user's tmux socket."""
        path = self.host_dir(user) / "default"
        acting = (
            creds.acting_as(user.uid, user.gid) if self.agent.root else contextlib.nullcontext()
        )
        with acting:
            try:
                # O_NOFOLLOW + connecting through /proc/self/fd: a symlink planted by the user
                # cannot point this root process at some other socket.
                fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                return False
            try:
                if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                    return False
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.settimeout(1)
                    probe.connect(f"/proc/self/fd/{fd}")
                return True
            except OSError:
                return False
            finally:
                os.close(fd)

    def home_binds(self, homes: tuple[UserRef, ...]) -> tuple[tuple[str, str, str], ...]:
        """Binds of other users' homes at /home/<name> (a teacher's students' homes).

        A home that is missing or not its user's is left out rather than failing the whole
        sandbox; access inside is the fileserver's ACLs' business, not the bind's."""
        binds = []
        for other in homes:
            owner = other.uid if self.agent.root else os.geteuid()
            try:
                home = identity.check_home(self.agent.config, other, owner)
            except OpError:
                continue
            binds.append(("--bind", str(home), f"/home/{other.username}"))
        return tuple(binds)

    def bound_homes(self, user: UserRef) -> tuple[str, ...]:
        """The other homes (usernames) the user's running tmux server has."""
        return self._homes.get(user.uid, ())

    def _has_live_panes(self, user: UserRef) -> bool:
        code, out, _ = self.command(user, ["list-panes", "-a", "-F", "#{pane_dead}"])
        return code == 0 and "0" in out.split()

    def ensure_server(
        self, user: UserRef, limits: Limits | None, homes: tuple[UserRef, ...] = ()
    ) -> bool:
        """Start the user's tmux server unless it runs; True if it was started. Hold lock().

        A running server whose bound homes differ from ``homes`` is started again when
        nothing runs in it any more (its consoles all finished): a console restarted then
        sees the homes of students who joined since.
        """
        binds = self.home_binds(homes)
        wanted = tuple(dest.rsplit("/", 1)[1] for _, _, dest in binds)
        if self.server_alive(user):
            if self.bound_homes(user) == wanted or self._has_live_panes(user):
                return False
            self.command(user, ["kill-server"])
            deadline = time.monotonic() + 5
            while self.server_alive(user) and time.monotonic() < deadline:
                time.sleep(0.01)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.host_dir(user) / "default")
        req = Launch(
            user=user,
            limits=limits,
            cwd=f"/home/{user.username}",
            tag=SERVER_TAG,
            # -D: tmux stays in the foreground as the sandbox's main process; daemonising
            # would leave bwrap's pid 1 with no child, and the sandbox would be torn down.
            argv=["tmux", "-D", "-S", self.socket_path(user), "-f", self._conf_path()],
            extra_binds=self._binds(user) + binds,
            term="tmux-256color",
        )
        launched = self.agent.sandbox.launch(req)
        self.agent.reaper.watch(launched.process)
        deadline = time.monotonic() + 10
        while not self.server_alive(user):
            if launched.process.poll() is not None or time.monotonic() > deadline:
                raise OpError("failed", "the tmux server did not start")
            time.sleep(0.002)
        self._homes[user.uid] = wanted
        return True

    def command(
        self, user: UserRef, args: list[str], *, timeout: float = 10, limits: Limits | None = None
    ) -> tuple[int, str, str]:
        """Run one tmux client command in the user's sandbox."""
        req = Launch(
            user=user,
            limits=limits,
            cwd=f"/home/{user.username}",
            argv=["tmux", "-S", self.socket_path(user), *args],
            extra_binds=self._binds(user),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            die_with_parent=True,
        )
        launched = self.agent.sandbox.launch(req)
        out, err, timed_out = collect_output(launched.process, None, timeout)
        if timed_out:
            raise OpError("failed", f"tmux {args[0]} timed out")
        return (
            launched.process.returncode,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )

    def attach_launch(self, user: UserRef, console_id: str, read_only: bool, slave: int) -> Launch:
        argv = ["tmux", "-S", self.socket_path(user), "attach-session", "-t", f"={console_id}"]
        if read_only:
            argv += ["-f", "read-only,ignore-size"]
        return Launch(
            user=user,
            limits=None,
            cwd=f"/home/{user.username}",
            argv=argv,
            extra_binds=self._binds(user),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            controlling_tty=True,
            term="xterm-256color",
            tag=Tag("console", console_id),
            as_pid_1=True,  # one client per open browser tab: each process saved counts
        )

    def new_session_args(
        self,
        console_id: str,
        argv: list[str],
        cwd: str,
        rows: int,
        cols: int,
        env: dict[str, str] | None = None,
    ) -> list[str]:
        # tmux runs a single argument through `sh -c`; quoting keeps argv semantics.
        command = [shlex.quote(argv[0])] if len(argv) == 1 else argv
        return [
            "new-session",
            "-d",
            "-s",
            console_id,
            "-x",
            str(cols),
            "-y",
            str(rows),
            "-c",
            cwd,
            "-e",
            "WARREN_TAG_KIND=console",
            "-e",
            f"WARREN_TAG_ID={console_id}",
            *[word for name, value in (env or {}).items() for word in ("-e", f"{name}={value}")],
            "--",
            *command,
        ]

    def server_pid_namespace(self, user: UserRef) -> int | None:
        """The pid namespace of the user's tmux server (pane pids are numbered in it)."""
        wanted = ["tmux", "-D", "-S", self.socket_path(user)]
        for status in self.agent.user_processes(user):
            try:
                with open(f"/proc/{status.pid}/cmdline", "rb") as handle:
                    cmdline = handle.read().split(b"\0")
            except OSError:
                continue
            if [part.decode("utf-8", "replace") for part in cmdline[:4]] == wanted:
                return procs.pid_namespace(status.pid)
        return None
