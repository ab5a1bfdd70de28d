"""The memory limit of web app workers, kept by the agent rather than by uWSGI.

uWSGI's own ``evil-reload-on-rss`` makes every worker read its memory usage after every
request, which cost the web bench several percent of its throughput; this sweep reads the RSS
of every process in the users' web cgroups once a second, off the request path, and SIGKILLs
one past the limit. Workers are found by cgroup membership, not by name: a worker renamed with
prctl(PR_SET_NAME) or a child it forked is still in its user's web cgroup. The master starts a
fresh worker; the request it was serving gets a 502. The cgroup's own memory limit bounds the
sum.
"""

from __future__ import annotations

import logging
import signal
import threading

from execution_agent import procs

log = logging.getLogger("execution_agent")


def _in_cgroup(pid: int, prefix: str) -> bool:
    """Whether pid's cgroup, in any hierarchy, lies under prefix (e.g. "/warren/web_apps/")."""
    try:
        with open(f"/proc/{pid}/cgroup") as handle:
            return any(line.split(":", 2)[2].startswith(prefix) for line in handle)
    except (OSError, IndexError):
        return False


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * procs.PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class WorkerMemoryGuard:
    """Every ``interval`` seconds, kill any web app process past ``limit_bytes``."""

    def __init__(
        self, *, uid_base: int, limit_bytes: int, web_cgroup: str, interval: float = 1.0
    ) -> None:
        self.uid_base = uid_base
        self.limit_bytes = limit_bytes
        self.web_cgroup = "/" + web_cgroup.strip("/") + "/"
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
        """Kill the web app processes over the limit now; return their pids."""
        killed = []
        for pid in procs.all_pids():
            if _rss_bytes(pid) <= self.limit_bytes or not _in_cgroup(pid, self.web_cgroup):
                continue
            status = procs.read_status(pid)
            if status is None or status.real_uid < self.uid_base:
                continue
            # Never the sandbox's init (pid 1) or the uWSGI master (pid 2), which would take
            # the whole app down; bwrap outside the namespace has a single NSpid.
            if len(status.nspids) < 2 or status.nspids[-1] <= 2:
                continue
            with procs.owned_pidfd(pid, status.real_uid) as pidfd:
                if pidfd is not None and procs.send(pidfd, signal.SIGKILL):
                    killed.append(pid)
                    log.warning(
                        "web memory guard: killed process %d of uid %d (RSS over %d MiB)",
                        pid,
                        status.real_uid,
                        self.limit_bytes >> 20,
                    )
        return killed
