"""The memory limit of web app workers, kept by the agent rather than by uWSGI.

Vassals join no memory cgroup (tyrant mode drops root before they start). uWSGI's own
``evil-reload-on-rss`` makes every worker read its memory usage after every request, which
cost the web bench several percent of its throughput; this sweep reads each worker's RSS
once a second, off the request path, and SIGKILLs a worker past the limit. Its master starts
a fresh one; the request it was serving gets a 502.
"""

from __future__ import annotations

import logging
import signal
import threading

from execution_agent import procs

log = logging.getLogger("execution_agent")


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * procs.PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class WorkerMemoryGuard:
    """Every ``interval`` seconds, kill any Warren user's uWSGI worker past ``limit_bytes``."""

    def __init__(self, *, uid_base: int, limit_bytes: int, interval: float = 1.0) -> None:
        self.uid_base = uid_base
        self.limit_bytes = limit_bytes
        self.interval = interval
        self._stop = threading.Event()

    def start(self) -> WorkerMemoryGuard:
        threading.Thread(target=self._loop, name="web-memory-guard", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:  # a sweep must never end the guard
                log.exception("web memory guard: sweep failed")

    def sweep(self) -> list[int]:
        """Kill the workers over the limit now; return their pids."""
        killed = []
        for pid in procs.all_pids():
            # A worker is a uwsgi process whose parent is its uwsgi master (the master's
            # parent is bubblewrap): the master itself is never killed.
            if _comm(pid) != "uwsgi" or _rss_bytes(pid) <= self.limit_bytes:
                continue
            status = procs.read_status(pid)
            if status is None or status.real_uid < self.uid_base or _comm(status.ppid) != "uwsgi":
                continue
            with procs.owned_pidfd(pid, status.real_uid) as pidfd:
                if pidfd is not None and procs.send(pidfd, signal.SIGKILL):
                    killed.append(pid)
                    log.warning(
                        "web memory guard: killed worker %d of uid %d (RSS over %d MiB)",
                        pid,
                        status.real_uid,
                        self.limit_bytes >> 20,
                    )
        return killed
