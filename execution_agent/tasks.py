"""Scheduled task runs: started in the user's sandbox and cgroup, waited for off the socket.

A run's output (stdout and stderr) is appended to a log file in the user's home, opened as
the user beneath the home (so a symlink cannot aim it elsewhere and the user's quota counts
it), between a header line when it starts and a footer when it ends (end time, duration,
exit status, CPU-seconds). A thread per run waits for it, kills it at its wall-clock limit,
and writes its result to <run dir>/tasks/results/<run id>.json, where Django collects it with
`task_results` (and then forgets it). The results survive an agent restart; a run that was
going when the agent stopped is reported as lost.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from execution_agent.errors import OpError, from_os_error
from execution_agent.homefs import home_as_user
from execution_agent.safepath import open_beneath
from execution_agent.sandbox import Launch
from execution_agent.validation import Limits, Tag, UserRef

log = logging.getLogger("execution_agent")
LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
KILL_GRACE_SECONDS = 2


@dataclass(frozen=True)
class TaskRunRequest:
    user: UserRef
    limits: Limits | None
    task_id: int
    run_id: str
    command: str
    log_parts: list[str]  # the log file, relative to the home
    wall_seconds: float
    log_max_bytes: int
    env: dict[str, str] = field(default_factory=dict)  # args.env's rules (API_TOKEN)

    @property
    def run_group(self) -> str:
        return f"task-{self.run_id}"

    @property
    def tag(self) -> Tag:
        return Tag("task", f"{self.task_id}.{self.run_id}")


def stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def open_task_log(agent, user: UserRef, log_parts: list[str], max_bytes: int) -> int:
    """A task's log, opened for appending as the user; rotated to <log>.1 past ``max_bytes``."""
    parent_parts, name = log_parts[:-1], log_parts[-1]
    with home_as_user(agent, user) as home_fd:
        try:
            parent = _parent_dir(home_fd, parent_parts)
            try:
                fd = open_beneath(parent, [name], LOG_FLAGS, 0o644)
                if os.fstat(fd).st_size >= max_bytes:
                    os.close(fd)
                    os.rename(name, f"{name}.1", src_dir_fd=parent, dst_dir_fd=parent)
                    fd = open_beneath(parent, [name], LOG_FLAGS, 0o644)
                return fd
            finally:
                os.close(parent)
        except OSError as exc:
            raise from_os_error(exc, "task log") from None


def _parent_dir(home_fd: int, parts: list[str]) -> int:
    for depth in range(1, len(parts) + 1):
        with contextlib.suppress(FileExistsError):
            holder = open_beneath(home_fd, parts[: depth - 1], os.O_PATH | os.O_DIRECTORY)
            try:
                os.mkdir(parts[depth - 1], 0o755, dir_fd=holder)
            finally:
                os.close(holder)
    return open_beneath(home_fd, parts, os.O_PATH | os.O_DIRECTORY)


class TaskRunner:
    def __init__(self, agent) -> None:
        self.agent = agent
        self.results_dir = agent.config.run_dir / "tasks" / "results"
        self.results_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._running: dict[str, TaskRunRequest] = {}
        # Runs recorded as going by an agent that has since stopped: lost, say so once.
        self._mark_lost_runs()

    # --- starting -------------------------------------------------------------------------
    def start(self, req: TaskRunRequest) -> dict:
        """Start a run unless it is going or over already (a retried request is harmless)."""
        with self._lock:
            if req.run_id in self._running or self._result_path(req.run_id).exists():
                return {"started": False}
            self._running[req.run_id] = req
        try:
            log_fd = self._open_log(req)
        except BaseException:
            self._forget_running(req.run_id)
            raise
        started = time.time()
        try:
            os.write(
                log_fd,
                f"=== {stamp(started)}: task {req.task_id} run {req.run_id} started: "
                f"{req.command} ===\n".encode(),
            )
            launched = self.agent.sandbox.launch(
                Launch(
                    user=req.user,
                    limits=req.limits,
                    argv=["/bin/bash", "-c", req.command],
                    cwd=f"/home/{req.user.username}",
                    tag=req.tag,
                    stdout=log_fd,
                    stderr=log_fd,
                    run_group=req.run_group,
                    env=req.env,
                )
            )
        except BaseException as exc:
            message = getattr(exc, "message", str(exc))
            with contextlib.suppress(OSError):
                os.write(
                    log_fd, f"=== {stamp(time.time())}: could not start: {message} ===\n".encode()
                )
            os.close(log_fd)
            self._forget_running(req.run_id)
            raise
        self._write_json(self._running_path(req.run_id), {"run_id": req.run_id})
        # Pinned before command_pid, whose poll() may reap a quick run: the pidfd still
        # reports that exit, and never another process that reused the pid.
        pidfd = os.pidfd_open(launched.process.pid)
        pid = self.agent.sandbox.command_pid(launched)
        threading.Thread(
            target=self._wait,
            args=(req, launched.process, pidfd, log_fd, started),
            name=f"task-run-{req.run_id}",
            daemon=True,
        ).start()
        return {"started": True, "pid": pid, "started_at": started}

    def _open_log(self, req: TaskRunRequest) -> int:
        return open_task_log(self.agent, req.user, req.log_parts, req.log_max_bytes)

    # --- waiting --------------------------------------------------------------------------
    def _wait(self, req: TaskRunRequest, process, pidfd: int, log_fd: int, started: float) -> None:
        killed = False
        usage = None
        try:
            if not select.select([pidfd], [], [], req.wall_seconds)[0]:
                killed = True
                self._kill(req, process, pidfd)
            try:
                _, status, usage = os.wait4(process.pid, 0)
                process.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                process.wait()  # reaped already (command_pid's poll): returncode is set
            # The sandbox's pid namespace is gone with its init: nothing of the run is left.
        finally:
            os.close(pidfd)
        ended = time.time()
        cpu = self._cpu_seconds(req, usage)
        exit_status = process.returncode
        why = f"killed at the wall-clock limit of {req.wall_seconds:g} s; " if killed else ""
        footer = (
            f"=== {stamp(ended)}: {why}finished after {ended - started:.1f} s, "
            f"exit status {exit_status}, CPU {cpu:.2f} s ===\n"
        )
        with contextlib.suppress(OSError):
            os.write(log_fd, footer.encode())
        os.close(log_fd)
        self._finish(
            req.run_id,
            {
                "run_id": req.run_id,
                "task_id": req.task_id,
                "state": "killed" if killed else "done",
                "started_at": started,
                "finished_at": ended,
                "exit_status": exit_status,
                "cpu_seconds": cpu,
            },
        )

    def _cpu_seconds(self, req: TaskRunRequest, usage) -> float:
        """The run group's CPU; without cgroups, bwrap's own (its init reports no children's)."""
        usec = None
        if self.agent.cgroups_active:
            usec = self.agent.cgroups.run_group_usage_usec(req.user.username, req.run_group)
            try:
                self.agent.cgroups.run_group_remove(req.user.username, req.run_group)
            except OSError as exc:
                log.warning("run group of run %s not removed: %s", req.run_id, exc)
        if usec is None:
            return round(usage.ru_utime + usage.ru_stime, 3) if usage is not None else 0.0
        return round(usec / 1e6, 3)

    def _kill(self, req: TaskRunRequest, process, pidfd: int) -> None:
        from execution_agent.ops.processes import signal_tagged

        signal_tagged(self.agent, req.user, req.tag, signal.SIGTERM)
        # Not process.poll(): it would reap the sandbox, and wait4 must have its rusage.
        select.select([pidfd], [], [], KILL_GRACE_SECONDS)
        signal_tagged(self.agent, req.user, req.tag, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)

    # --- results --------------------------------------------------------------------------
    def results(self, forget: list[str]) -> dict:
        """Forget the runs Django has recorded; report the finished rest and the running."""
        for run_id in forget:
            with contextlib.suppress(FileNotFoundError):
                self._result_path(run_id).unlink()
        finished = []
        for path in sorted(self.results_dir.glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                finished.append(json.loads(path.read_text()))
        with self._lock:
            running = sorted(self._running)
        return {"finished": finished, "running": running}

    def kill(self, user: UserRef, run_id: str) -> bool:
        with self._lock:
            req = self._running.get(run_id)
        if req is None or req.user != user:
            return False
        from execution_agent.ops.processes import kill_tagged_tree

        kill_tagged_tree(self.agent, user, req.tag, KILL_GRACE_SECONDS)
        return True

    def _finish(self, run_id: str, result: dict) -> None:
        self._write_json(self._result_path(run_id), result)
        with contextlib.suppress(FileNotFoundError):
            self._running_path(run_id).unlink()
        self._forget_running(run_id)

    def _forget_running(self, run_id: str) -> None:
        with self._lock:
            self._running.pop(run_id, None)

    def _mark_lost_runs(self) -> None:
        for path in self.results_dir.glob("*.running"):
            with contextlib.suppress(ValueError, OSError):
                run_id = path.stem
                self._write_json(
                    self._result_path(run_id),
                    {"run_id": run_id, "state": "lost", "finished_at": time.time()},
                )
                path.unlink()

    def _result_path(self, run_id: str) -> Path:
        return self.results_dir / f"{run_id}.json"

    def _running_path(self, run_id: str) -> Path:
        return self.results_dir / f"{run_id}.running"

    @staticmethod
    def _write_json(path: Path, value: dict) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(value))
        os.replace(temporary, path)


def check_command(command: str) -> str:
    if any(char in command for char in "\r\n") or not command.strip():
        raise OpError("bad_request", "args.command: must be one non-empty line")
    return command
