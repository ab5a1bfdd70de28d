"""One tmux server per user, running inside that user's sandbox; consoles are its sessions.

Every tmux *client* process the agent runs is sandboxed too: the socket directory is the
user's, so whatever answers on it is user-controlled, and a tmux client obeys a server's
MSG_EXEC/SHELL (it execs a shell command). Outside a sandbox that would be an escape. The
consoles' attach clients are no processes at all: the agent speaks the client's protocol itself
and obeys nothing (execution_agent.tmux_client).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import re
import secrets
import selectors
import shlex
import socket
import stat
import struct
import subprocess
import termios
import threading
import time
from collections import defaultdict
from pathlib import Path

from execution_agent import creds, identity, procs
from execution_agent.errors import OpError
from execution_agent.output import OUTPUT_CAP, collect_output
from execution_agent.sandbox import Launch
from execution_agent.tmux_client import AttachFailed, Clients
from execution_agent.validation import Limits, Tag, UserRef

logger = logging.getLogger(__name__)

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


# A console just started is attached by its page's websocket a few milliseconds later: its
# attach client is started beside the start op's reply (off both ops' path) and handed over
# then. One not taken within WARM_SECONDS is closed; at most WARM_MAX wait at once.
WARM_SECONDS = 30
WARM_MAX = 64
# A dashboard process going away (a deploy) parks its consoles' attach clients here
# (console_park) for the reconnecting pages, which land on its successor: the same handover as
# above, keyed by read-only-ness too. Each client is one process and one fd of the agent's.
PARKED_MAX = 4096

# Where attach clients are processes: concurrent re-attaches of one user's consoles (every page
# reconnecting after a deploy) share one list-sessions instead of a has-session each through
# the user's single runner; a list is
# reused this long for sessions it names (a session just created is looked for afresh).
SESSION_NAMES_SECONDS = 1.0

# tmux commands (new-session, has-session, list-panes, kill-session...) are the agent's own
# client too (tmux_client.Clients.command: no process). Where it cannot speak tmux's protocol
# (or WARREN_CONSOLE_CLIENT_PROCESSES=1), and for an argument holding a NUL, they run through
# one sandboxed shell per user, the runner, instead of a bubblewrap launch each (~6-10 ms): the
# agent writes a command's arguments, NUL-separated, on its stdin; it runs the tmux client
# in its sandbox (a tmux client obeys its server's MSG_EXEC, so it never runs outside one) and
# ends each stream with a random marker the tmux server cannot know. It exits when idle.
RUNNER_TAG = Tag(kind="other", id="tmux-runner")
RUNNER_IDLE_SECONDS = 300
RUNNER_SCRIPT = r"""
while IFS= read -r -d '' -t "$2" marker; do
  IFS= read -r -d '' count || exit
  args=()
  for ((i = 0; i < count; i++)); do IFS= read -r -d '' arg || exit; args+=("$arg"); done
  tmux -S "$1" "${args[@]}" </dev/null
  code=$?
  printf '\n%s %d\n' "$marker" "$code"
  printf '\n%s\n' "$marker" >&2
done
"""


class TmuxError(OpError):
    pass


class RunnerFailed(Exception):
    """The runner died or broke its framing: the command is run by a launch of its own."""


@dataclasses.dataclass
class _Runner:
    process: subprocess.Popen
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


@dataclasses.dataclass
class Launched:
    """An attach client process (its bubblewrap), where the agent cannot speak tmux itself."""

    process: subprocess.Popen

    def alive(self) -> bool:
        return self.process.poll() is None

    def resize(self) -> None:
        pass  # the client hears SIGWINCH from its terminal and tells tmux


@dataclasses.dataclass
class Attached:
    """A tmux attach client on a new PTY: the master fd and the client (tmux_client.Client,
    or a Launched process)."""

    master: int
    client: object


@dataclasses.dataclass
class _Warm:
    ready: threading.Event
    attached: Attached | None = None
    timer: threading.Timer | None = None


@dataclasses.dataclass(frozen=True)
class _HandedOut:
    """What an attach client the agent started is: whose, which console, read-only or not."""

    uid: int
    console_id: str
    read_only: bool
    client: object


@dataclasses.dataclass
class _Names:
    """One list-sessions of a user, in flight or done (see SESSION_NAMES_SECONDS)."""

    done: threading.Event
    started: float
    names: frozenset[str] = frozenset()
    error: BaseException | None = None


# _IOR('T', 0x30, unsigned int): Python's termios does not name it.
TIOCGPTN = getattr(termios, "TIOCGPTN", 0x80045430)


def pty_number(fd: int) -> int:
    """The number of the PTY whose master ``fd`` is (TIOCGPTN); OSError if it is none."""
    return struct.unpack("I", fcntl.ioctl(fd, TIOCGPTN, b"\0" * 4))[0]


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


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
        self._warm: dict[tuple[int, str], _Warm] = {}
        # (uid, console id, read_only) -> parked clients, oldest first.
        self._parked: dict[tuple[int, str, bool], list[_Warm]] = {}
        # PTY number -> the attach client on it, so a parked fd is known to be one of ours.
        self._handed: dict[int, _HandedOut] = {}
        self._names: dict[int, _Names] = {}
        self._runners: dict[int, _Runner] = {}
        self._runner_spawns: dict[int, threading.Lock] = defaultdict(threading.Lock)
        self.clients = Clients("tmux", agent.config.run_dir / "tmux-learn")

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
        """Run one tmux command on the user's server: as the agent's own client (no process),
        else in the user's sandbox through the user's runner."""
        self.agent.sandbox.prepare(user, limits)  # the limits and refusals of a launch
        if self.attaches_in_agent() and not any("\0" in arg for arg in args):
            return self._command_in_agent(user, args, timeout)
        if not any("\0" in arg for arg in args):
            # Commands queued behind a runner that died all hold that runner: the first to
            # find it dead drops it, and a second try starts (one) fresh runner for them all.
            for _ in range(2):
                try:
                    return self._run_in_runner(user, args, timeout)
                except RunnerFailed as exc:
                    logger.info("tmux runner of uid %s: %s", user.uid, exc)
        logger.info("tmux runner of uid %s: launching the command alone", user.uid)
        return self._command_launched(user, args, timeout=timeout, limits=limits)

    def _command_in_agent(
        self, user: UserRef, args: list[str], timeout: float
    ) -> tuple[int, str, str]:
        try:
            code, out, err = self.clients.command(
                self.host_dir(user) / "default",
                user.uid,
                user.gid,
                args,
                cwd=f"/home/{user.username}",
                as_user=self.agent.root,
                timeout=timeout,
                cap=OUTPUT_CAP,
            )
        except OSError as exc:
            # What a tmux client process says when nothing answers on the socket.
            reason = exc.strerror or type(exc).__name__
            return 1, "", f"no server running on {self.socket_path(user)} ({reason})\n"
        except AttachFailed as exc:
            raise OpError("failed", f"tmux {args[0]}: {exc}") from None
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _runner(self, user: UserRef) -> _Runner:
        with self._guard:
            spawning = self._runner_spawns[user.uid]
        with spawning:  # two commands at once must not each start a runner
            with self._guard:
                runner = self._runners.get(user.uid)
            if runner is not None and runner.process.poll() is None:
                return runner
            return self._start_runner(user)

    def _start_runner(self, user: UserRef) -> _Runner:
        req = Launch(
            user=user,
            limits=None,
            cwd=f"/home/{user.username}",
            argv=[
                "bash",
                "--norc",
                "--noprofile",
                "-c",
                RUNNER_SCRIPT,
                "tmux-runner",
                self.socket_path(user),
                str(RUNNER_IDLE_SECONDS),
            ],
            extra_binds=self._binds(user),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            die_with_parent=True,
            tag=RUNNER_TAG,
        )
        launched = self.agent.sandbox.launch(req)
        self.agent.reaper.watch(launched.process)
        runner = _Runner(launched.process)
        with self._guard:
            self._runners[user.uid] = runner
        return runner

    def _drop_runner(self, user: UserRef, runner: _Runner) -> None:
        with self._guard:
            if self._runners.get(user.uid) is runner:
                del self._runners[user.uid]
        with contextlib.suppress(OSError):
            runner.process.kill()  # --die-with-parent: the sandbox goes with bwrap
        for stream in (runner.process.stdin, runner.process.stdout, runner.process.stderr):
            with contextlib.suppress(OSError):
                stream.close()

    def _run_in_runner(self, user: UserRef, args: list[str], timeout: float):
        runner = self._runner(user)
        with runner.lock:
            if runner.process.poll() is not None:
                self._drop_runner(user, runner)
                raise RunnerFailed("it exited")
            marker = secrets.token_hex(16).encode()
            request = b"\0".join([marker, str(len(args)).encode(), *map(os.fsencode, args)])
            try:
                runner.process.stdin.write(request + b"\0")
                runner.process.stdin.flush()
                out, err, code = self._runner_answer(runner, marker, timeout, args[0])
            except (OSError, ValueError) as exc:
                self._drop_runner(user, runner)
                raise RunnerFailed(str(exc)) from None
            except (RunnerFailed, OpError):
                self._drop_runner(user, runner)  # its framing can no longer be trusted
                raise
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    @staticmethod
    def _runner_answer(runner: _Runner, marker: bytes, timeout: float, name: str):
        """Read both streams up to the marker; (stdout, stderr, exit code)."""
        ends = {
            runner.process.stdout.fileno(): re.compile(b"\n" + marker + rb" (\d{1,3})\n\Z"),
            runner.process.stderr.fileno(): re.compile(b"\n" + marker + rb"\n\Z"),
        }
        buffers = {fd: bytearray() for fd in ends}
        found: dict[int, re.Match] = {}
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for fd in ends:
                selector.register(fd, selectors.EVENT_READ)
            while len(found) < len(ends):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise OpError("failed", f"tmux {name} timed out")
                for key, _ in selector.select(remaining):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        raise RunnerFailed("it closed its output")
                    buffer = buffers[key.fd]
                    buffer += chunk
                    # Over the cap, keep only a tail: enough to find the marker in.
                    if len(buffer) > 2 * OUTPUT_CAP:
                        del buffer[OUTPUT_CAP : len(buffer) - 256]
                    match = ends[key.fd].search(buffer)
                    if match:
                        found[key.fd] = match
                        selector.unregister(key.fd)
        out_fd, err_fd = runner.process.stdout.fileno(), runner.process.stderr.fileno()
        out = bytes(buffers[out_fd][: found[out_fd].start()][:OUTPUT_CAP])
        err = bytes(buffers[err_fd][: found[err_fd].start()][:OUTPUT_CAP])
        return out, err, int(found[out_fd][1])

    def _command_launched(
        self, user: UserRef, args: list[str], *, timeout: float = 10, limits: Limits | None = None
    ) -> tuple[int, str, str]:
        """Run one tmux client command in a sandbox of its own."""
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

    def attaches_in_agent(self) -> bool:
        """Whether attach clients are the agent's own (the tmux protocol is known), not
        processes; attach() then finds out itself whether the session exists."""
        if self.agent.config.console_client_processes:
            return False
        return self.clients.identity() is not None

    def attach(
        self, user: UserRef, console_id: str, *, read_only: bool, rows: int, cols: int
    ) -> Attached:
        """Attach a client on a new PTY: the agent's own, else a sandboxed process."""
        if not self.attaches_in_agent():
            return self._attach_launched(user, console_id, read_only, rows, cols)
        master, slave = os.openpty()
        try:
            os.set_inheritable(master, False)
            set_winsize(master, rows, cols)
            client = self.clients.attach(
                self.host_dir(user) / "default",
                user.uid,
                user.gid,
                session=console_id,
                read_only=read_only,
                slave=slave,
                cwd=f"/home/{user.username}",
                as_user=self.agent.root,
            )
        except (AttachFailed, OSError) as exc:
            os.close(master)
            # No server, or a server without the session: both are "no such console".
            raise OpError("not_found", f"no console {console_id}: {exc}") from None
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # tmux has its own copy: the master's reader sees it hang up
        self._remember(master, user, console_id, read_only, client)
        return Attached(master, client)

    def _attach_launched(
        self, user: UserRef, console_id: str, read_only: bool, rows: int, cols: int
    ) -> Attached:
        """Start a sandboxed attach client on a new PTY (its controlling terminal)."""
        master, slave = os.openpty()
        try:
            os.set_inheritable(master, False)
            set_winsize(master, rows, cols)
            launched = self.agent.sandbox.launch(
                self.attach_launch(user, console_id, read_only, slave)
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        # When the master is closed, the client gets a hangup and exits; reap it then.
        self.agent.reaper.watch(launched.process)
        client = Launched(launched.process)
        self._remember(master, user, console_id, read_only, client)
        return Attached(master, client)

    def _remember(self, master: int, user, console_id: str, read_only: bool, client) -> None:
        try:
            number = pty_number(master)
        except OSError:
            return  # not parkable then; nothing else depends on it
        with self._guard:
            if len(self._handed) >= 2 * PARKED_MAX:
                # Forget the clients that have exited (their PTY numbers may be reused).
                self._handed = {n: h for n, h in self._handed.items() if h.client.alive()}
            self._handed[number] = _HandedOut(user.uid, console_id, read_only, client)

    def prepare_attach(self, user: UserRef, console_id: str, rows: int, cols: int) -> None:
        """Start, in a thread, the read-write attach client the console's page will ask for."""
        key = (user.uid, console_id)
        with self._guard:
            if key in self._warm or len(self._warm) >= WARM_MAX:
                return
            warm = self._warm[key] = _Warm(threading.Event())
        threading.Thread(
            target=self._warm_up,
            args=(key, warm, user, rows, cols),
            name="tmux-warm-attach",
            daemon=True,
        ).start()

    def _warm_up(self, key, warm: _Warm, user: UserRef, rows: int, cols: int) -> None:
        try:
            warm.attached = self.attach(user, key[1], read_only=False, rows=rows, cols=cols)
        except Exception as exc:  # the websocket's attach then starts its own, and says why
            logger.info("no attach client prepared for %s: %s", key[1], exc)
        finally:
            warm.ready.set()
        warm.timer = threading.Timer(WARM_SECONDS, self._discard, args=(key, warm))
        warm.timer.daemon = True
        warm.timer.start()

    def take_attach(
        self, user: UserRef, console_id: str, rows: int, cols: int, read_only: bool = False
    ) -> Attached | None:
        """A parked client of the console (or, read-write, the one prepared at start), resized.

        A read-only attach only ever gets a read-only client, and a read-write one a
        read-write client: the key says which.
        """
        while True:
            with self._guard:
                parked = self._parked.get((user.uid, console_id, read_only))
                warm = parked.pop(0) if parked else None
                if parked == []:
                    del self._parked[(user.uid, console_id, read_only)]
            if warm is None:
                break
            attached = self._taken(warm, rows, cols)
            if attached is not None:
                return attached
        if read_only:
            return None
        with self._guard:
            warm = self._warm.pop((user.uid, console_id), None)
        if warm is None or not warm.ready.wait(10):
            return None
        return self._taken(warm, rows, cols)

    @staticmethod
    def _taken(warm: _Warm, rows: int, cols: int) -> Attached | None:
        if warm.timer is not None:
            warm.timer.cancel()
        attached = warm.attached
        if attached is None:
            return None
        if not attached.client.alive():  # the session ended meanwhile
            os.close(attached.master)
            return None
        set_winsize(attached.master, rows, cols)
        attached.client.resize()
        return attached

    def park(self, user: UserRef, console_id: str, master: int, seconds: float) -> bool:
        """Keep an attach client handed back (its PTY master) for the console's next attach.

        Takes ``master`` (closed on refusal too). Only a live client this agent started for
        this user's console is taken back, with the read-only-ness it was started with.
        """
        try:
            handed = self._handed_client(user, console_id, master)
            key = (user.uid, console_id, handed.read_only)
            warm = _Warm(threading.Event(), Attached(master, handed.client))
            warm.ready.set()
            with self._guard:
                if sum(len(clients) for clients in self._parked.values()) >= PARKED_MAX:
                    os.close(master)
                    return False
                self._parked.setdefault(key, []).append(warm)
                warm.timer = threading.Timer(seconds, self._unpark, args=(key, warm))
                warm.timer.daemon = True
                warm.timer.start()
            return True
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(master)
            raise

    def resize(self, user: UserRef, console_id: str, master: int, rows: int, cols: int) -> None:
        """Resize the terminal of an attach client this agent handed out (its PTY master).

        The agent's own clients have no SIGWINCH to hear: tmux is told here. A read-only
        client's size is ignored by tmux anyway (ignore-size), so it is refused.
        """
        handed = self._handed_client(user, console_id, master)
        if handed.read_only:
            raise OpError("forbidden", "a read-only client does not resize the console")
        set_winsize(master, rows, cols)
        handed.client.resize()

    def _handed_client(self, user: UserRef, console_id: str, master: int) -> _HandedOut:
        try:
            number = pty_number(master)
        except OSError:
            raise OpError("bad_request", "pty: not a terminal's master") from None
        with self._guard:
            handed = self._handed.get(number)
        if (
            handed is None
            or handed.uid != user.uid
            or handed.console_id != console_id
            or not handed.client.alive()
        ):
            raise OpError("not_found", f"pty: no attach client of console {console_id}")
        return handed

    def _unpark(self, key, warm: _Warm) -> None:
        with self._guard:
            clients = self._parked.get(key)
            if not clients or warm not in clients:
                return  # taken meanwhile
            clients.remove(warm)
            if not clients:
                del self._parked[key]
        if warm.timer is not None:
            warm.timer.cancel()
        os.close(warm.attached.master)  # the client hangs up and exits; the reaper reaps it

    def discard_attach(self, user: UserRef, console_id: str) -> None:
        """Close the console's prepared and parked attach clients (it is being killed)."""
        self.forget_session_names(user)
        for read_only in (False, True):
            key = (user.uid, console_id, read_only)
            with self._guard:
                parked = list(self._parked.get(key, ()))
            for client in parked:
                self._unpark(key, client)
        with self._guard:
            warm = self._warm.get((user.uid, console_id))
        if warm is not None:
            warm.ready.wait(10)
            self._discard((user.uid, console_id), warm)

    def _discard(self, key, warm: _Warm) -> None:
        with self._guard:
            if self._warm.get(key) is not warm:
                return  # taken meanwhile
            del self._warm[key]
        if warm.timer is not None:
            warm.timer.cancel()
        if warm.attached is not None:
            os.close(warm.attached.master)

    def session_exists(self, user: UserRef, console_id: str) -> bool:
        """Whether the user's tmux server has the session, from a shared list-sessions.

        A name missing from a list that another caller started is looked for again in a list
        of this caller's own: the session may have been created since that one began.
        """
        names, own = self.session_names(user)
        if console_id in names:
            return True
        if not own:
            self.forget_session_names(user)
            names, _ = self.session_names(user)
        return console_id in names

    def session_names(self, user: UserRef) -> tuple[frozenset[str], bool]:
        """The user's session names and whether this call listed them (False: shared)."""
        now = time.monotonic()
        with self._guard:
            entry = self._names.get(user.uid)
            fresh = entry is not None and (
                not entry.done.is_set() or now - entry.started < SESSION_NAMES_SECONDS
            )
            if not fresh:
                entry = self._names[user.uid] = _Names(threading.Event(), now)
        if fresh:
            if not entry.done.wait(15):
                raise OpError("failed", "tmux list-sessions timed out")
            if entry.error is not None:
                raise entry.error
            return entry.names, False
        try:
            code, out, err = self.command(user, ["list-sessions", "-F", "#{session_name}"])
            if code != 0 and not ("no server" in err or "no sessions" in err):
                raise OpError("failed", f"tmux list-sessions: {err.strip()[:500]}")
            entry.names = frozenset(out.split()) if code == 0 else frozenset()
        except BaseException as exc:
            entry.error = exc
            self.forget_session_names(user, entry)
            raise
        finally:
            entry.done.set()
        return entry.names, True

    def forget_session_names(self, user: UserRef, entry: _Names | None = None) -> None:
        """Drop the user's shared list (a session was created or killed)."""
        with self._guard:
            if entry is None or self._names.get(user.uid) is entry:
                self._names.pop(user.uid, None)

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
