"""Always-on tasks: commands kept running in their users' sandboxes, with no Django in the loop.

Django sends each user's whole desired set (`always_on_set`); it is written to
<run dir>/always_on/<uid>.json before anything starts, so an agent that restarts (or a machine
that boots) starts the same tasks again by itself. Each task has a thread of its own that
launches the command exactly as a scheduled run is launched (same sandbox, the user's cgroup,
so its CPU is counted and the tarpit slows it), waits on its pidfd, and starts it again when it
exits: after 1 s, then 2 s, 4 s ... up to the set's cap, back to 1 s once a run lasted
`stable_seconds`. Every start, exit and wait is a line in the task's log in the home.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import select
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from execution_agent.sandbox import Launch
from execution_agent.tasks import open_task_log, stamp
from execution_agent.validation import Limits, Tag, UserRef

log = logging.getLogger("execution_agent")
KILL_GRACE_SECONDS = 2
# A sandbox that cannot even start waits like a crashing command: the same back-off.
FIRST_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class AlwaysOnSpec:
    task_id: int
    command: str
    log_parts: tuple[str, ...]


@dataclass(frozen=True)
class AlwaysOnSet:
    """One user's desired set, and how their tasks are run (the same for all of them)."""

    user: UserRef
    limits: Limits | None
    tasks: tuple[AlwaysOnSpec, ...]
    log_max_bytes: int
    backoff_max_seconds: float
    stable_seconds: float

    def to_json(self) -> dict:
        return {
            "user": {"uid": self.user.uid, "username": self.user.username},
            "limits": dataclasses.asdict(self.limits) if self.limits else None,
            "tasks": [
                {"task_id": t.task_id, "command": t.command, "log_parts": list(t.log_parts)}
                for t in self.tasks
            ],
            "log_max_bytes": self.log_max_bytes,
            "backoff_max_seconds": self.backoff_max_seconds,
            "stable_seconds": self.stable_seconds,
        }

    @classmethod
    def from_json(cls, value: dict) -> AlwaysOnSet:
        return cls(
            user=UserRef(**value["user"]),
            limits=Limits(**value["limits"]) if value["limits"] else None,
            tasks=tuple(
                AlwaysOnSpec(t["task_id"], t["command"], tuple(t["log_parts"]))
                for t in value["tasks"]
            ),
            log_max_bytes=value["log_max_bytes"],
            backoff_max_seconds=value["backoff_max_seconds"],
            stable_seconds=value["stable_seconds"],
        )


def tag_for(task_id: int) -> Tag:
    # A kind of its own: the Processes page labels it "Always-on: ..." (schedules registers
    # the labeler), and kill_tagged of a scheduled run can never reach it.
    return Tag("always_on", str(task_id))


class Supervised:
    """One task's thread: start, wait, log, back off, start again, until told to stop."""

    def __init__(
        self, agent, owner: AlwaysOnSet, spec: AlwaysOnSpec, after: Supervised | None = None
    ) -> None:
        self.agent = agent
        # The supervisor this one replaces (a changed command): it must be gone first, or its
        # kill by tag would reach the new run.
        self.after = after
        self.owner = owner
        self.spec = spec
        self.tag = tag_for(spec.task_id)
        self._lock = threading.Lock()
        self._stopping = False
        self._restart = False
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._closed = False
        self.state = "starting"
        self.pid: int | None = None
        self.started_at: float | None = None
        self.next_start_at: float | None = None
        self.last_exit_status: int | None = None
        self.restarts = 0
        self.thread = threading.Thread(
            target=self._run, name=f"always-on-{spec.task_id}", daemon=True
        )

    # --- told from the socket's threads --------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self._wake()

    def restart(self) -> None:
        with self._lock:
            self._restart = True
        self._wake()

    def status(self) -> dict:
        with self._lock:
            waiting = self.next_start_at
            return {
                "task_id": self.spec.task_id,
                "state": self.state,
                "pid": self.pid,
                "started_at": self.started_at,
                "restart_in": max(0.0, waiting - time.time()) if waiting else None,
                "last_exit_status": self.last_exit_status,
                "restarts": self.restarts,
            }

    def _wake(self) -> None:
        # Under the lock, and never once the pipe is closed: its fd number may be another
        # file's by then.
        with self._lock, contextlib.suppress(BlockingIOError, OSError):
            if not self._closed:
                os.write(self._wake_w, b"x")

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._wake_r, 64):
                pass

    # --- the thread ----------------------------------------------------------------------
    def _note(self, text: str) -> None:
        """One line in the task's log (opened for each line: the user may move or delete it)."""
        try:
            fd = self._open_log()
        except Exception as exc:  # a log we cannot open must not stop the task
            log.warning("always-on %s: log not written: %s", self.spec.task_id, exc)
            return
        try:
            os.write(fd, f"=== {stamp(time.time())}: {text} ===\n".encode())
        except OSError:
            pass
        finally:
            os.close(fd)

    def _open_log(self) -> int:
        return open_task_log(
            self.agent, self.owner.user, list(self.spec.log_parts), self.owner.log_max_bytes
        )

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("always-on task %s supervisor failed", self.spec.task_id)
        finally:
            with self._lock:
                self.state, self.pid, self.next_start_at = "stopped", None, None
                self._closed = True
                os.close(self._wake_r)
                os.close(self._wake_w)

    def _loop(self) -> None:
        from execution_agent.ops.processes import signal_tagged

        if self.after is not None:
            self.after.thread.join()
            self.after = None
        # An agent that stopped left none of this tag running (or one it can no longer watch).
        signal_tagged(self.agent, self.owner.user, self.tag, signal.SIGKILL)
        delay = 0.0
        while True:
            if delay:
                self._note(f"restarting in {delay:g} s")
                with self._lock:
                    self.state, self.next_start_at = "waiting", time.time() + delay
                if self._sleep(delay):
                    return
            with self._lock:
                if self._stopping:
                    return
                self._restart = False
                self.next_start_at = None
            ran, exit_status = self._one_run()
            if exit_status is None:  # stopped while it ran
                return
            with self._lock:
                restart_asked, self._restart = self._restart, False
                self.restarts += 1
            if restart_asked:
                delay = 0.0
            elif ran >= self.owner.stable_seconds:
                delay = FIRST_DELAY_SECONDS
            else:
                delay = min(max(delay * 2, FIRST_DELAY_SECONDS), self.owner.backoff_max_seconds)

    def _sleep(self, seconds: float) -> bool:
        """Wait out a back-off; True when told to stop (a Restart ends the wait early)."""
        deadline = time.monotonic() + seconds
        while True:
            with self._lock:
                if self._stopping:
                    return True
                if self._restart:
                    return False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            select.select([self._wake_r], [], [], left)
            self._drain()

    def _one_run(self) -> tuple[float, int | None]:
        """Run the command once; (seconds it ran, exit status), status None when stopped."""
        user = self.owner.user
        started = time.time()
        try:
            log_fd = self._open_log()
        except Exception as exc:  # said in the agent's log, then backed off
            log.warning("always-on %s: log not opened: %s", self.spec.task_id, exc)
            return 0.0, -1
        try:
            os.write(
                log_fd,
                f"=== {stamp(started)}: always-on task {self.spec.task_id} started: "
                f"{self.spec.command} ===\n".encode(),
            )
            launched = self.agent.sandbox.launch(
                Launch(
                    user=user,
                    limits=self.owner.limits,
                    argv=["/bin/bash", "-c", self.spec.command],
                    cwd=f"/home/{user.username}",
                    tag=self.tag,
                    stdout=log_fd,
                    stderr=log_fd,
                )
            )
        except Exception as exc:  # a start that failed is an exit like any
            message = getattr(exc, "message", str(exc))
            with contextlib.suppress(OSError):
                os.write(
                    log_fd, f"=== {stamp(time.time())}: could not start: {message} ===\n".encode()
                )
            os.close(log_fd)
            with self._lock:
                self.last_exit_status = -1
            return 0.0, -1
        os.close(log_fd)  # the sandbox holds its own copy
        pidfd = os.pidfd_open(launched.process.pid)
        pid = self.agent.sandbox.command_pid(launched)
        with self._lock:
            self.state, self.pid, self.started_at = "running", pid, started
        stopped = False
        try:
            while not select.select([pidfd, self._wake_r], [], [])[0].count(pidfd):
                self._drain()
                with self._lock:
                    stopping, restarting = self._stopping, self._restart
                if stopping or restarting:
                    stopped = stopping
                    self._kill(launched.process, pidfd)
                    break
            try:
                _, status, _ = os.wait4(launched.process.pid, 0)
                exit_status = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                launched.process.wait()
                exit_status = launched.process.returncode
        finally:
            os.close(pidfd)
        ended = time.time()
        with self._lock:
            self.pid, self.last_exit_status = None, exit_status
            self.state = "stopped" if stopped else "waiting"
        why = "stopped; " if stopped else ""
        self._note(
            f"always-on task {self.spec.task_id} {why}exited with status {exit_status} "
            f"after {ended - started:.1f} s"
        )
        return ended - started, (None if stopped else exit_status)

    def _kill(self, process, pidfd: int) -> None:
        from execution_agent.ops.processes import signal_tagged

        user = self.owner.user
        signal_tagged(self.agent, user, self.tag, signal.SIGTERM)
        select.select([pidfd], [], [], KILL_GRACE_SECONDS)
        for _ in range(20):
            if not signal_tagged(self.agent, user, self.tag, signal.SIGKILL):
                break
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)


class AlwaysOn:
    """Every user's always-on tasks on this server: the desired sets and their supervisors."""

    def __init__(self, agent) -> None:
        self.agent = agent
        self.state_dir = agent.config.run_dir / "always_on"
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sets: dict[int, AlwaysOnSet] = {}
        self._supervised: dict[tuple[int, int], Supervised] = {}

    def resume(self) -> int:
        """At agent start: start every task of every saved set; returns how many."""
        count = 0
        for path in sorted(self.state_dir.glob("*.json")):
            try:
                wanted = AlwaysOnSet.from_json(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("always-on: %s unreadable, ignored: %s", path.name, exc)
                continue
            self._apply(wanted)
            count += len(wanted.tasks)
        return count

    def set(self, wanted: AlwaysOnSet) -> list[dict]:
        """Make the user's running tasks what ``wanted`` says; saved first, for restarts."""
        path = self._path(wanted.user)
        if wanted.tasks:
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(wanted.to_json()))
            os.replace(temporary, path)
        else:
            path.unlink(missing_ok=True)
        self._apply(wanted)
        return self.status(wanted.user)

    def _apply(self, wanted: AlwaysOnSet) -> None:
        uid = wanted.user.uid
        with self._lock:
            self._sets[uid] = wanted
            keep = {spec.task_id: spec for spec in wanted.tasks}
            replaced: dict[int, Supervised] = {}
            for (owner_uid, task_id), supervised in list(self._supervised.items()):
                if owner_uid != uid:
                    continue
                # Unchanged tasks run on undisturbed (new limits or back-off bounds apply from
                # their next start: the CPU weight changes every minute with the tarpit);
                # changed or removed ones stop.
                if keep.get(task_id) == supervised.spec and supervised.owner.user == wanted.user:
                    supervised.owner = wanted
                    continue
                supervised.stop()
                replaced[task_id] = supervised
                del self._supervised[(owner_uid, task_id)]
            for spec in wanted.tasks:
                if (uid, spec.task_id) not in self._supervised:
                    supervised = Supervised(
                        self.agent, wanted, spec, after=replaced.get(spec.task_id)
                    )
                    self._supervised[(uid, spec.task_id)] = supervised
                    supervised.start()
            if not wanted.tasks:
                self._sets.pop(uid, None)

    def status(self, user: UserRef) -> list[dict]:
        with self._lock:
            mine = [s for (uid, _), s in self._supervised.items() if uid == user.uid]
        if mine and mine[0].owner.user != user:
            return []
        return sorted((s.status() for s in mine), key=lambda item: item["task_id"])

    def restart(self, user: UserRef, task_id: int) -> bool:
        with self._lock:
            supervised = self._supervised.get((user.uid, task_id))
        if supervised is None or supervised.owner.user != user:
            return False
        supervised.restart()
        return True

    def _path(self, user: UserRef) -> Path:
        return self.state_dir / f"{user.uid}.json"
