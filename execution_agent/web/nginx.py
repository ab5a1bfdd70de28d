"""nginx's server blocks for users' apps: tested with `nginx -t`, rolled back when refused."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from execution_agent.errors import OpError
from execution_agent.web.layout import WebLayout, process_named, read_pid, write_atomically

NGINX = "/usr/sbin/nginx"


def _children(pid: int) -> set[int]:
    try:
        return {
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        }
    except (OSError, ValueError):
        return set()


class NginxSites:
    """nginx's server blocks: every change is tested with `nginx -t` before nginx reloads."""

    def __init__(self, layout: WebLayout) -> None:
        self.layout = layout

    def nginx_test(self) -> str | None:
        """None if nginx accepts the whole configuration, else its complaint."""
        result = subprocess.run(
            [NGINX, "-t", "-q", "-p", f"{self.layout.nginx}/", "-c", str(self.layout.nginx_conf)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode == 0:
            return None
        return (result.stderr or result.stdout).strip()[-2000:] or "nginx -t failed"

    def nginx_running(self) -> bool:
        return process_named(read_pid(self.layout.nginx_pid), b"nginx")

    def nginx_reload(self, timeout: float = 3.0) -> None:
        """HUP the master, then wait until workers with the new configuration replaced the
        old ones (idle old workers leave at once; busy ones stop accepting), so the next
        request sees the change."""
        pid = read_pid(self.layout.nginx_pid)
        if not process_named(pid, b"nginx"):
            return
        before = _children(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = _children(pid)
            if now - before and not now & before:
                return
            time.sleep(0.005)

    def install_site(self, slug: str, text: str | None) -> bool:
        """Put a server block in place (None removes it), test, reload; roll back on failure."""
        path = self.layout.site(slug)
        try:
            old = path.read_bytes()
        except FileNotFoundError:
            old = None
        new = None if text is None else text.encode()
        if new == old:
            return False
        if new is None:
            path.unlink()
        else:
            write_atomically(path, new, mode=0o600)
        complaint = self.nginx_test()
        if complaint is not None:
            # Never leave a block nginx refuses: the next reload would take every site down.
            if old is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, old, mode=0o600)
            raise OpError("failed", f"nginx rejected the configuration: {complaint}")
        self.nginx_reload()
        return True
