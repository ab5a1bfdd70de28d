"""Start user processes: drop to the uid, then bubblewrap, in the user's cgroup from the start.

Ordering (checked in bubblewrap's source, bubblewrap.c main()): the outer bwrap writes
`{"child-pid": N}` to --info-fd right after clone() and before it lets the child run; the
child does all its mount setup, then blocks reading --block-fd, and only after that loads the
seccomp filter, forks the sandbox's command and execs it. So the agent reads the child pid,
writes both pids to the user's cgroup, and only then writes to the block fd: every process of
user code is forked inside the cgroup. No preexec_fn is needed (it is unsafe with threads).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import itertools
import json
import logging
import os
import select
import signal
import stat
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from execution_agent import identity
from execution_agent.config import Config
from execution_agent.errors import OpError
from execution_agent.landlock import BindRuleset, LandlockError
from execution_agent.procs import all_pids, read_ppid, read_status
from execution_agent.seccomp import build_filter
from execution_agent.validation import Limits, Tag, UserRef

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
# Where the batteries appear in a sandbox (deploy/batteries/sitecustomize.py names it too).
BATTERIES_MOUNT = "/opt/warren"
MS_NOSUID, MS_NODEV, MS_REMOUNT = 0x2, 0x4, 0x20
_libc = ctypes.CDLL(None, use_errno=True)
logger = logging.getLogger(__name__)


@dataclass
class Launch:
    """What to start, for whom, and where its standard streams go."""

    user: UserRef
    limits: Limits | None  # None: keep whatever limits the user's cgroup already has
    argv: list[str]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    tag: Tag | None = None
    stdin: int | None = subprocess.DEVNULL
    stdout: int | None = subprocess.DEVNULL
    stderr: int | None = subprocess.DEVNULL
    controlling_tty: bool = False
    die_with_parent: bool = False
    extra_binds: tuple[tuple[str, str, str], ...] = ()  # (--bind or --ro-bind, source, dest)
    term: str = "dumb"
    # The command is the sandbox's pid 1 instead of a child of bwrap's reaper: one process
    # (about 1.3 MiB) less, for commands that start no children of their own (tmux clients).
    as_pid_1: bool = False
    # A child group of the user's cgroup the sandbox joins too, to read its CPU on its own
    # (a scheduled run's); None: the user's group alone.
    run_group: str | None = None


@dataclass
class Launched:
    process: subprocess.Popen
    ns_init_pid: int | None  # host pid of the sandbox's pid 1 (bwrap's reaper), if sandboxed


class Sandbox:
    def __init__(
        self,
        config: Config,
        cgroups,
        *,
        root: bool,
        bwrap: str | None,
        setsid: str,
        cgroups_active: bool,
        bind_ruleset: BindRuleset | None = None,
    ) -> None:
        self.config = config
        # None only where the kernel lacks Landlock networking (the agent warned at start).
        self.bind_ruleset = bind_ruleset
        self.cgroups = cgroups
        self.cgroups_active = cgroups_active
        self.root = root
        self.bwrap = bwrap
        self.setsid = setsid
        self.seccomp_program = build_filter()
        self.system_args = _system_args() + _batteries_args(config.batteries_dir)
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def user_lock(self, username: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[username]

    def owner_uid(self, user: UserRef) -> int:
        """The uid that must own the user's home: theirs, or ours when running without root."""
        return user.uid if self.root else os.geteuid()

    def prepare(self, user: UserRef, limits: Limits | None) -> tuple[Path, Path | None]:
        """What every launch does first: the home checked, the cgroup made or given ``limits``
        (None keeps the cgroup's), pids.max checked, passwd and /tmp ready. Returns (home, tmp).

        Also called alone before a command run in an already sandboxed process (the tmux
        runner), so that it applies and refuses exactly as a launch would."""
        home = identity.check_home(self.config, user, self.owner_uid(user))
        effective = limits or Limits()
        if self.cgroups_active:
            if limits is None:
                self.cgroups.ensure_user(user.username, None, None)
            else:
                new = self.cgroups.ensure_user(
                    user.username, effective.memory_bytes, effective.pids_max
                )
                # Only a new group takes the spawn's weight (a cgroup made again after a reboot
                # must not escape the tarpit); an existing one keeps what accounting last set,
                # which a spawn racing an accounting run must not overwrite.
                if new and effective.cpu_shares is not None:
                    self.cgroups.set_cpu_shares(user.username, effective.cpu_shares)
            if self.cgroups.pids_exhausted(user.username):
                raise OpError("limit", f"{user.username} has reached pids.max")
        tmp = self._prepare_user(user, effective.tmp_bytes, resize=limits is not None)
        return home, tmp

    def launch(self, req: Launch) -> Launched:
        """Start req's command in the user's sandbox; raises OpError on refusal or failure."""
        home, tmp = self.prepare(req.user, req.limits)
        limits = req.limits or Limits()
        env = self._environment(req)
        if self.bwrap is None:
            return self._launch_unsandboxed(req, home, env)
        return self._launch_bwrap(req, home, tmp, env, limits)

    def _environment(self, req: Launch) -> dict[str, str]:
        home = f"/home/{req.user.username}"
        if self.bwrap is None:
            home = str(identity.home_of(self.config, req.user))
        env = {}
        if req.tag is not None:
            # First, so the process list finds them early in /proc/<pid>/environ.
            env["WARREN_TAG_KIND"] = req.tag.kind
            env["WARREN_TAG_ID"] = req.tag.id
        env |= {
            "HOME": home,
            "USER": req.user.username,
            "LOGNAME": req.user.username,
            "PATH": SANDBOX_PATH,
            "LANG": "C.UTF-8",
            "TERM": req.term,
            "SHELL": "/bin/bash",
        }
        if self.config.batteries_dir is not None:
            # pip reads <dir>/pip/pip.conf of each as its site-wide config: find-links to the
            # wheels; the user's own pip config and PIP_* variables still override it.
            env["XDG_CONFIG_DIRS"] = f"{BATTERIES_MOUNT}/xdg:/etc/xdg"
        env.update(req.env)
        return env

    def _popen(
        self, argv: list[str], req: Launch, env: dict[str, str], pass_fds=(), cwd: str = "/"
    ) -> subprocess.Popen:
        if req.controlling_tty:
            # util-linux setsid: new session, then TIOCSCTTY on stdin (the PTY slave), then exec;
            # Popen cannot make a controlling terminal without preexec_fn.
            argv = [self.setsid, "--ctty", *argv]
        credentials = {}
        if self.root:
            credentials = {"user": req.user.uid, "group": req.user.gid, "extra_groups": []}

        def start() -> subprocess.Popen:
            return subprocess.Popen(
                argv,
                stdin=req.stdin,
                stdout=req.stdout,
                stderr=req.stderr,
                env=env,
                cwd=cwd,
                pass_fds=pass_fds,
                close_fds=True,
                **credentials,
            )

        try:
            if self.bind_ruleset is None:
                return start()
            # Forked from a Landlock-restricted thread: user code can bind no TCP port.
            return self.bind_ruleset.run_restricted(start)
        except LandlockError as exc:
            raise OpError("failed", f"could not start the sandbox: {exc}") from None
        except OSError as exc:
            code = "limit" if exc.errno == 11 else "failed"
            raise OpError(code, f"could not start the sandbox: {exc.strerror}") from None

    def _launch_unsandboxed(self, req: Launch, home: Path, env: dict[str, str]) -> Launched:
        sandbox_home = f"/home/{req.user.username}"
        cwd = str(home) + req.cwd[len(sandbox_home) :] if req.cwd.startswith(sandbox_home) else "/"
        return Launched(self._popen(req.argv, req, env, cwd=cwd), None)

    def _launch_bwrap(
        self, req: Launch, home: Path, tmp: Path | None, env: dict[str, str], limits: Limits
    ) -> Launched:
        seccomp_r, seccomp_w = os.pipe()
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        to_close = [seccomp_r, seccomp_w, info_r, info_w, block_r, block_w]
        try:
            os.write(seccomp_w, self.seccomp_program)  # a few hundred bytes: fits the pipe
            os.close(seccomp_w)
            to_close.remove(seccomp_w)
            argv = self._bwrap_argv(req, home, tmp, limits)
            argv[-len(req.argv) - 1 : -len(req.argv) - 1] = [
                "--info-fd",
                str(info_w),
                "--seccomp",
                str(seccomp_r),
                *(["--block-fd", str(block_r)] if self.cgroups_active else []),
            ]
            process = self._popen(argv, req, env, pass_fds=(info_w, seccomp_r, block_r))
            for fd in (info_w, seccomp_r, block_r):
                os.close(fd)
                to_close.remove(fd)
            child_pid = _read_child_pid(info_r)
            if child_pid is None:
                process.kill()  # a no-op if it already exited
                status = process.wait()
                raise OpError("failed", f"bwrap exited with status {status} before starting")
            if self.cgroups_active:
                self._join_cgroup(req.user.username, process, child_pid, req.run_group)
                # EPIPE: the sandbox's setup already failed; its exit status tells the caller.
                with contextlib.suppress(BrokenPipeError):
                    os.write(block_w, b"1")
            return Launched(process, child_pid)
        finally:
            for fd in to_close:
                os.close(fd)

    def _join_cgroup(
        self, username: str, process: subprocess.Popen, child_pid: int, run_group: str | None
    ) -> None:
        try:
            self.cgroups.add_pids(username, [process.pid, child_pid])
            if run_group is not None:
                self.cgroups.run_group_join(username, run_group, [process.pid, child_pid])
        except OSError as exc:
            # The child is still blocked; kill it before the block fd closes (EOF unblocks it).
            os.kill(child_pid, signal.SIGKILL)
            process.kill()
            process.wait()
            raise OpError("failed", f"could not join the cgroup: {exc.strerror}") from None

    def view_args(
        self, user: UserRef, home: Path, *, www: Path | None, tmp: Path | None, tmp_bytes: int
    ) -> list[str]:
        """bwrap and what every sandbox sees: its own namespaces, the read-only system, the
        user's passwd, /proc, a minimal /dev, the home, /var/www and /tmp (``tmp`` bound, or
        a private tmpfs). Callers add their binds, then ``--remount-ro /`` and the command."""
        username = user.username
        args = [
            self.bwrap or "/usr/bin/bwrap",
            "--unshare-user",
            "--disable-userns",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--hostname",
            "warren",
            "--cap-drop",
            "ALL",
            *self.system_args,
        ]
        if self.root:
            etc = self.config.run_dir / "etc" / username
            args += ["--ro-bind", str(etc / "passwd"), "/etc/passwd"]
            args += ["--ro-bind", str(etc / "group"), "/etc/group"]
        # The S108 hits below are paths inside the sandbox, not the agent's own temp files.
        args += [
            "--proc", "/proc",
            # The init's memory stays out of reach (writing it would wedge the sandbox as a
            # stopped init does); the seccomp filter refuses ptrace of pid 1 likewise.
            "--ro-bind", "/dev/null", "/proc/1/mem",
            "--ro-bind", "/dev/null", "/proc/1/task/1/mem",
            "--dev", "/dev",
            "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/dev/shm",  # noqa: S108
            # bwrap's /dev is a writable tmpfs; only /dev/shm (and /dev/pts) should be.
            "--remount-ro", "/dev",
            "--bind", str(home), f"/home/{username}",
        ]  # fmt: skip
        if www is not None:
            args += ["--bind", str(www), "/var/www"]
        if tmp is not None:
            args += ["--bind", str(tmp), "/tmp"]  # noqa: S108
        else:
            args += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]  # noqa: S108
        args += ["--symlink", "../tmp", "/var/tmp"]  # noqa: S108
        return args

    def _bwrap_argv(self, req: Launch, home: Path, tmp: Path | None, limits: Limits) -> list[str]:
        www = identity.www_dir_if_owned(self.config, req.user, self.owner_uid(req.user))
        args = self.view_args(req.user, home, www=www, tmp=tmp, tmp_bytes=limits.tmp_bytes)
        if req.die_with_parent:
            args.append("--die-with-parent")
        if req.as_pid_1:
            args.append("--as-pid-1")
        for option, source, dest in req.extra_binds:
            args += [option, source, dest]
        args += ["--remount-ro", "/", "--chdir", req.cwd, "--", *req.argv]
        return args

    def _prepare_user(self, user: UserRef, tmp_bytes: int, *, resize: bool) -> Path | None:
        """Write the user's passwd/group and mount their shared /tmp (root only)."""
        if not self.root:
            return None
        with self.user_lock(user.username):
            etc = self.config.run_dir / "etc" / user.username
            etc.mkdir(mode=0o755, parents=True, exist_ok=True)
            identity.write_if_changed(etc / "passwd", identity.passwd_text(user, user.uid))
            identity.write_if_changed(etc / "group", identity.group_text(user, user.uid))
            return self._mount_tmp(user, tmp_bytes, resize=resize)

    def _mount_tmp(self, user: UserRef, size: int, *, resize: bool) -> Path | None:
        # <run>/tmp/<user> is 0700 and owned by the user, so the tmpfs inside it (mode 1777,
        # like /tmp) is reachable by that uid alone even from outside any sandbox.
        holder = self.config.run_dir / "tmp" / user.username
        holder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(holder)
        if st.st_uid != user.uid or stat.S_IMODE(st.st_mode) != 0o700:
            os.chown(holder, user.uid, user.gid, follow_symlinks=False)
            os.chmod(holder, 0o700)
        mountpoint = holder / "tmp"
        mountpoint.mkdir(exist_ok=True)
        mounted = os.stat(mountpoint).st_dev != os.stat(holder).st_dev
        if mounted:
            vfs = os.statvfs(mountpoint)
            if not resize or abs(vfs.f_blocks * vfs.f_frsize - size) < vfs.f_frsize:
                return mountpoint
        flags = MS_NOSUID | MS_NODEV | (MS_REMOUNT if mounted else 0)
        options = f"size={size},mode=1777".encode()
        if _libc.mount(b"tmpfs", bytes(mountpoint), b"tmpfs", flags, options) != 0:
            if mounted:
                return mountpoint  # keep the old size rather than fail the launch
            return None  # bwrap gets a private --tmpfs /tmp instead
        return mountpoint

    def command_pid(self, launched: Launched, timeout: float = 2.0) -> int | None:
        """Host pid of the user's command (pid 2 of the sandbox); None if it already ended."""
        init = launched.ns_init_pid
        if init is None:
            return launched.process.pid
        deadline = time.monotonic() + timeout
        for attempt in itertools.count(1):
            # Pids are handed out in order, so the command is almost always just above init;
            # now and then scan everything in case other forks got in between.
            candidates = all_pids() if attempt % 20 == 0 else range(init + 1, init + 9)
            for pid in candidates:
                if read_ppid(pid) == init:
                    status = read_status(pid)
                    if status and status.ppid == init and status.nspids[-1] == 2:
                        return pid
            if launched.process.poll() is not None or time.monotonic() > deadline:
                return None
            time.sleep(0.0005)
        return None


def _read_child_pid(info_fd: int, timeout: float = 10.0) -> int | None:
    chunks = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([info_fd], [], [], remaining)[0]:
            return None
        chunk = os.read(info_fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    try:
        return int(json.loads(b"".join(chunks))["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None


def _system_args() -> list[str]:
    """Read-only system dirs; merged-usr links as links; Warren's own config under /etc hidden."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--ro-bind", "/etc", "/etc"]
    for entry in sorted(os.listdir("/etc")):
        if entry.startswith("warren"):
            hidden = f"/etc/{entry}"
            if os.path.isdir(hidden) and not os.path.islink(hidden):
                args += ["--tmpfs", hidden]
            else:
                args += ["--ro-bind", "/dev/null", hidden]
    resolv = os.path.realpath("/etc/resolv.conf")
    if not resolv.startswith(("/etc/", "/usr/")) and os.path.exists(resolv):
        # e.g. systemd-resolved's stub under /run, which the sandbox otherwise lacks.
        args += ["--ro-bind", resolv, resolv]
    return args


def _batteries_args(batteries_dir: Path | None) -> list[str]:
    """The batteries read-only at /opt/warren, and their sitecustomize over the system one's.

    A .pth file would need a new file under the read-only /usr, and PYTHONPATH would put the
    batteries before a virtualenv's own packages; the system Python's sitecustomize (Debian:
    /usr/lib/python3.X/sitecustomize.py -> /etc/python3.X/sitecustomize.py) already exists to
    be bound over, and runs at every start.
    """
    if batteries_dir is None:
        return []
    args = ["--ro-bind", str(batteries_dir), BATTERIES_MOUNT]
    hooks = sorted({os.path.realpath(p) for p in glob.glob("/usr/lib/python3*/sitecustomize.py")})
    for hook in hooks:
        if os.path.isfile(hook):
            args += ["--ro-bind", str(batteries_dir / "sitecustomize.py"), hook]
    if not hooks:
        logger.warning("no system sitecustomize.py to bind over: python3 will not see batteries")
    return args
