"""Run a real agent in throw-away directories: used by the tests, the benchmark and dev setups.

Everything lives under one temporary base dir (homes, www, run dir, socket), users get uids
from a private base, cgroups a private prefix; cleanup() kills the uids' processes, removes the
cgroups, unmounts what the agent mounted and deletes the base dir.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from execution_agent import firewall
from execution_agent.client import AgentClient, AgentUnavailable, UserRef
from execution_agent.procs import all_pids, read_status
from execution_agent.teardown import remove_cgroups, unmount_beneath

REPO_ROOT = Path(__file__).resolve().parents[2]
UID_SPAN = 10_000


def random_uid_base() -> int:
    """A uid base for one harness, far from every other's: test processes run side by side."""
    return 3_000_000 + random.SystemRandom().randrange(0, 50_000) * 10_000


class AgentHarness:
    def __init__(
        self,
        *,
        uid_base: int,
        cgroup_prefix: str,
        allowed_uids: tuple[int, ...] = (0,),
        socket_group: int = 0,
        python: str = sys.executable,
        run_as: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.uid_base = uid_base
        self.cgroup_prefix = cgroup_prefix
        self.allowed_uids = allowed_uids
        self.socket_group = socket_group
        self.python = python
        self.run_as = run_as
        self.extra_env = extra_env or {}
        # Not pytest's tmp_path: users' bwrap must traverse these dirs, and it is 0700.
        self.base = Path(tempfile.mkdtemp(prefix="warren-exec-", dir="/tmp"))
        os.chmod(self.base, 0o755)  # noqa: S103 - users' bwrap must traverse it
        self.homes = self.base / "homes"
        self.www = self.base / "www"
        self.run_dir = self.base / "run"
        self.socket_path = self.base / "agent.sock"
        self.log_path = self.base / "agent.log"
        # Web apps: nginx and the Emperor of this harness (execution_agent.testing.web).
        self.web_dir = self.base / "web"
        self.web_port = free_port()
        self.web_https_port = free_port()
        # Two file servers' homes as an execution server mounts them (WARREN_FILESERVER_MOUNTS):
        # a home bound from one of them at homes/<username> (op home_mount_set).
        self.fileserver_mounts = {
            name: self.base / "fileservers" / name for name in ("fs-1", "fs-2")
        }
        # And their web directories (WARREN_FILESERVER_WWW_MOUNTS), bound at www/<username>.
        self.fileserver_www_mounts = {
            name: self.base / "fileservers-www" / name for name in ("fs-1", "fs-2")
        }
        mounts = (*self.fileserver_mounts.values(), *self.fileserver_www_mounts.values())
        for path in (self.homes, self.www, *mounts):
            path.mkdir(mode=0o755, parents=True)
        self.process: subprocess.Popen | None = None
        self.pythonpath = REPO_ROOT
        if run_as is not None:
            # The checkout may sit where an unprivileged uid cannot read it (e.g. under /root).
            self.pythonpath = self.base / "src"
            shutil.copytree(
                REPO_ROOT / "execution_agent",
                self.pythonpath / "execution_agent",
                ignore=shutil.ignore_patterns("__pycache__"),
            )

    @property
    def nft_table(self) -> str:
        return "t_" + re.sub(r"[^A-Za-z0-9_]", "_", self.cgroup_prefix)[:60]

    def env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "PYTHONPATH": str(self.pythonpath),
            "WARREN_EXEC_AGENT_SOCKET": str(self.socket_path),
            "WARREN_EXEC_AGENT_GROUP": str(self.socket_group),
            "WARREN_EXEC_AGENT_ALLOWED_UIDS": ",".join(map(str, self.allowed_uids)),
            "WARREN_HOMES_ROOT": str(self.homes),
            "WARREN_WWW_ROOT": str(self.www),
            "WARREN_UID_BASE": str(self.uid_base),
            # This harness's firewall covers its own uids only (harnesses run side by side).
            "WARREN_UID_LAST": str(self.uid_base + UID_SPAN - 1),
            "WARREN_CGROUP_PREFIX": self.cgroup_prefix,
            "WARREN_RUN_DIR": str(self.run_dir),
            "WARREN_WEB_DIR": str(self.web_dir),
            "WARREN_WEBAPPS_PORT": str(self.web_port),
            "WARREN_WEBAPPS_HTTPS_PORT": str(self.web_https_port),
            # Each harness its own table, removed at clean-up (harnesses run side by side).
            "WARREN_SANDBOX_NFT_TABLE": self.nft_table,
            "WARREN_FILESERVER_MOUNTS": ",".join(
                f"{name}={path}" for name, path in self.fileserver_mounts.items()
            ),
            "WARREN_FILESERVER_WWW_MOUNTS": ",".join(
                f"{name}={path}" for name, path in self.fileserver_www_mounts.items()
            ),
            **self.extra_env,
        }

    def start(self, timeout: float = 20.0) -> AgentHarness:
        """Start the agent and wait until it answers `info`."""
        credentials = {}
        if self.run_as is not None:
            credentials = {"user": self.run_as, "group": self.run_as, "extra_groups": []}
            os.chown(self.base, self.run_as, self.run_as)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.python, "-m", "execution_agent"],
                env=self.env(),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                **credentials,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client(timeout=2).info()
                return self
            except AgentUnavailable:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"agent did not start:\n{self.log()}") from None
                time.sleep(0.02)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, timeout: float = 15.0) -> AgentClient:
        return AgentClient(str(self.socket_path), timeout=timeout)

    def user(self, pk: int, username: str, *, www: bool = True) -> UserRef:
        """A Warren user with a home (and www dir) owned by their uid, mode 0700."""
        uid = self.uid_base + pk
        for root, wanted in ((self.homes, True), (self.www, www)):
            if wanted:
                path = root / username
                path.mkdir(mode=0o700, exist_ok=True)
                os.chown(path, uid, uid)
                os.chmod(path, 0o700)
        return {"uid": uid, "username": username}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill_user_processes(self, uids: set[int] | None = None) -> None:
        """SIGKILL every process of uids (default: every uid in this harness's range)."""

        def doomed(uid: int) -> bool:
            if uids is not None:
                return uid in uids
            return self.uid_base <= uid < self.uid_base + UID_SPAN

        for _ in range(50):
            victims = [
                status.pid
                for pid in all_pids()
                if (status := read_status(pid)) and status.state != "Z" and doomed(status.real_uid)
            ]
            if not victims:
                return
            for pid in victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    @contextlib.contextmanager
    def running(self):
        """Started for the with-block, cleaned up after it whatever happens."""
        try:
            self.start()
            yield self
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        self.stop()
        self.kill_user_processes()
        remove_cgroups(self.cgroup_prefix)
        if os.geteuid() == 0:
            with contextlib.suppress(firewall.FirewallError):
                firewall.remove(self.nft_table)
        unmount_beneath(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(
    port: int,
    *,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
    timeout: float = 30,
) -> None:
    """Wait until something listens on 127.0.0.1:port; fail early if ``process`` exits.

    ``log``, if given, is quoted in the error (what the server said before it gave up).
    """

    def said() -> str:
        return f"\n{log.read_text(errors='replace')}" if log is not None else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}{said()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s{said()}")


class PtyReader:
    """Read a PTY master (or any fd) marker by marker, keeping what follows each marker."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def until(self, marker: bytes, timeout: float = 15.0) -> bytes:
        """Everything up to and including marker; what came after it waits for the next call."""
        deadline = time.monotonic() + timeout
        while marker not in self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                raise TimeoutError(f"{marker!r} not seen; got {self.pending[-500:]!r}")
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the other side of the PTY is gone
                chunk = b""
            if not chunk:
                raise EOFError(f"{marker!r} not seen before EOF; got {self.pending[-500:]!r}")
            self.pending += chunk
        end = self.pending.index(marker) + len(marker)
        seen, self.pending = self.pending[:end], self.pending[end:]
        return seen


def read_until(fd: int, marker: bytes, timeout: float = 15.0) -> bytes:
    """One-shot PtyReader(fd).until(marker): for a single wait on a fresh fd."""
    return PtyReader(fd).until(marker, timeout)
