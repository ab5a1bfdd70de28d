"""Run the fileserver agent as a real process, for tests and benchmarks (stdlib only).

``python -m fileserver_agent`` prints ``listening on URL`` once it serves; ``AgentProcess``
starts it, waits for that line, and stops it. With a fixed port it can be stopped and started
again at the same address, which is what a file server rebooting looks like to Warren.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def du_agent_environment(
    *, homes: Path, www: Path, state: Path, secret: str, min_uid: int, **overrides: str
) -> dict[str, str]:
    """The WARREN_* settings of a du-backend agent on the given roots."""
    return {
        "WARREN_HOMES_ROOT": str(homes),
        "WARREN_WWW_ROOT": str(www),
        "WARREN_AGENT_BACKEND": "du",
        "WARREN_AGENT_STATE_DIR": str(state),
        "WARREN_AGENT_SECRETS": secret,
        "WARREN_AGENT_MIN_UID": str(min_uid),
        **overrides,
    }


class AgentProcess:
    """``python -m fileserver_agent`` with ``env`` on 127.0.0.1; its output goes to files."""

    def __init__(
        self, env: dict[str, str], log_dir: Path, *, port: int = 0, args: tuple[str, ...] = ()
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.port = port
        self.args = args
        self.stdout_path = log_dir / f"agent-{secrets.token_hex(3)}.out"
        self.log_path = self.stdout_path.with_suffix(".log")
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 15) -> AgentProcess:
        """Start the agent and wait for its listening line; raise with its log if it fails."""
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO_ROOT)}
        full_env.update(self.env)
        argv = [sys.executable, "-m", "fileserver_agent", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), *self.args]
        # Files, not pipes: a chatty agent must never block on a pipe nobody reads. Appended
        # to, so a restarted agent's log keeps what it said before.
        with open(self.stdout_path, "wb") as stdout, open(self.log_path, "ab") as stderr:
            self.process = subprocess.Popen(
                argv, stdout=stdout, stderr=stderr, env=full_env, cwd=REPO_ROOT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text()
            if "listening on " in text:
                self.url = text.split("listening on ", 1)[1].split()[0]
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"fileserver agent did not start:\n{self.log()}")

    @property
    def base_url(self) -> str:
        return self.url

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not gone within 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class BtrfsImage:
    """A btrfs filesystem in a sparse file, loop-mounted with quotas on; removed by ``remove``.

    Everything is under one ``/tmp/warren-quota-*`` directory (the image and the mount
    point), so a run that dies leaves something an operator can recognise and clean up.
    """

    def __init__(self, size_bytes: int = 256 * 1024 * 1024, *, prefix: str = "warren-quota-"):
        self.size_bytes = size_bytes
        self.base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        os.chmod(self.base, 0o755)  # noqa: S103 - users' sandboxes traverse the mount under it
        self.image = self.base / "homes.img"
        self.mount_point = self.base / "mnt"
        self.mounted = False

    @staticmethod
    def unavailable() -> str | None:
        """Why a loop-mounted btrfs cannot be made here, or None when it can."""
        if os.geteuid() != 0:
            return "mounting a loop image needs root"
        for tool in ("mkfs.btrfs", "btrfs", "losetup"):
            if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
                return f"{tool} is missing (apt-get install btrfs-progs)"
        if "btrfs" not in Path("/proc/filesystems").read_text():
            return "this kernel has no btrfs"
        return None

    def create(self) -> BtrfsImage:
        """mkfs, mount -o loop, quota enable; anything half-done is undone on failure."""
        try:
            with open(self.image, "wb") as image:
                image.truncate(self.size_bytes)
            _run(["mkfs.btrfs", "-q", str(self.image)])
            self.mount_point.mkdir(mode=0o755)
            _run(["mount", "-o", "loop", str(self.image), str(self.mount_point)])
            self.mounted = True
            _run(["btrfs", "quota", "enable", str(self.mount_point)])
            os.chmod(self.mount_point, 0o755)  # noqa: S103 - a homes root users traverse
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Unmount (the loop device goes with it: mount -o loop sets autoclear) and delete."""
        if self.mounted:
            subprocess.run(["umount", str(self.mount_point)], check=False, capture_output=True)
            if _is_mount_point(self.mount_point):
                subprocess.run(["umount", "-l", str(self.mount_point)], check=False)
            self.mounted = False
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> BtrfsImage:
        return self.create()

    def __exit__(self, *exc_info) -> None:
        self.remove()


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}")


def _is_mount_point(path: Path) -> bool:
    return any(
        line.split()[4] == str(path)
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    )
