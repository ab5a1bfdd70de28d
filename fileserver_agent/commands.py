"""Running the backend's external tools with a timeout and a readable failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

STDERR_EXCERPT_CHARS = 600


class CommandFailed(Exception):
    """An external tool exited non-zero, timed out or could not be started."""

    def __init__(self, argv: Sequence[str], reason: str, stderr: str = "") -> None:
        self.argv = list(argv)
        self.program = os.path.basename(self.argv[0]) if self.argv else "?"
        self.stderr = stderr
        excerpt = self.stderr_excerpt()
        super().__init__(f"{self.program} {reason}" + (f": {excerpt}" if excerpt else ""))

    def stderr_excerpt(self) -> str:
        """The end of stderr, where tools put the reason, trimmed for an HTTP response."""
        text = self.stderr.strip()
        if len(text) > STDERR_EXCERPT_CHARS:
            text = "…" + text[-STDERR_EXCERPT_CHARS:]
        return text


def find_tool(name: str, search_path: str) -> str | None:
    """Return the absolute path of ``name`` on ``search_path``, or None."""
    return shutil.which(name, path=search_path)


def run_command(
    argv: Sequence[str], *, stdin: bytes | None = None, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` without a shell; return the result whatever the exit status.

    Raises CommandFailed only when the tool could not run to completion (missing, killed
    by the timeout); callers judge exit statuses themselves because ``quota`` exits 1 to
    say "over quota", not "failed".
    """
    try:
        return subprocess.run(
            list(argv),
            input=stdin if stdin is not None else b"",
            capture_output=True,
            timeout=timeout,
            check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode(errors="replace")
        raise CommandFailed(argv, f"timed out after {timeout:g} s", stderr) from exc
    except OSError as exc:
        raise CommandFailed(argv, f"could not start ({exc.strerror})") from exc


def check_command(
    argv: Sequence[str], *, stdin: bytes | None = None, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` and raise CommandFailed unless it exits 0."""
    result = run_command(argv, stdin=stdin, timeout=timeout)
    if result.returncode != 0:
        raise CommandFailed(
            argv, f"exited {result.returncode}", result.stderr.decode(errors="replace")
        )
    return result
