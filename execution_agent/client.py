"""Client for the execution agent (stdlib only; Django imports this).

    client = AgentClient("/run/warren/execution-agent.sock")
    user = {"uid": 1000042, "username": "alice"}
    pid = client.spawn(user=user, argv=["sleep", "60"])["pid"]
    fd, size = client.fs_open(user=user, path="notes.txt", mode="r")
    result = client.web_reload(user=user, app={"domain": "alice.localhost", ...})

Every call opens one connection. Received fds are the caller's to close.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

from execution_agent.protocol import (
    MAX_RESPONSE_BYTES,
    PROTOCOL_VERSION,
    FrameError,
    recv_frame,
    send_frame,
)


class UserRef(TypedDict):
    uid: int
    username: str


class Limits(TypedDict, total=False):
    memory_bytes: int
    pids_max: int
    tmp_bytes: int
    cpu_shares: int  # v1 cpu.shares (2 = the tarpit); the agent maps it to cpu.weight on v2


class TagRef(TypedDict):
    kind: Literal["console", "task", "other"]
    id: str


Area = Literal["home", "www"]
LogKind = Literal["access", "error", "server"]


class AgentError(Exception):
    """The agent answered ok: false. `code` is one of the protocol's error codes."""

    def __init__(self, code: str, message: str, errno: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.errno = errno


class AgentUnavailable(Exception):
    """The agent's socket could not be reached, or the connection broke mid-call."""


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class AgentClient:
    def __init__(self, socket_path: str, timeout: float = 10.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def call(self, op: str, /, **args: Any) -> tuple[dict, list[int]]:
        """Send one request; return (result, fds). Raises AgentError or AgentUnavailable."""
        return self.call_with_fds(op, (), **args)

    def call_with_fds(
        self, op: str, send_fds: Sequence[int], /, **args: Any
    ) -> tuple[dict, list[int]]:
        """``call``, passing ``send_fds`` along with the request (they stay the caller's)."""
        # A `run` may legitimately take its whole timeout before answering.
        timeout = self.timeout + float(args.get("timeout", 0) if op == "run" else 0)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(timeout)
                connection.connect(self.socket_path)
                # A refused peer is answered (and hung up on) before its request is read.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    send_frame(
                        connection, {"v": PROTOCOL_VERSION, "op": op, "args": args}, send_fds
                    )
                response, fds = recv_frame(connection, MAX_RESPONSE_BYTES)
        except (OSError, FrameError) as exc:
            raise AgentUnavailable(f"execution agent at {self.socket_path}: {exc}") from exc
        if not isinstance(response, dict) or not isinstance(response.get("ok"), bool):
            _close_all(fds)
            raise AgentUnavailable("execution agent sent a malformed response")
        if not response["ok"]:
            _close_all(fds)
            error = response.get("error") or {}
            raise AgentError(
                str(error.get("code", "failed")), str(error.get("message", "")), error.get("errno")
            )
        return response.get("result") or {}, fds

    def _call_one_fd(self, op: str, **args: Any) -> tuple[dict, int]:
        result, fds = self.call(op, **args)
        if len(fds) != 1:
            _close_all(fds)
            raise AgentUnavailable(f"{op}: expected one file descriptor, got {len(fds)}")
        return result, fds[0]

    # --- the agent ---------------------------------------------------------------------------
    def info(self) -> dict:
        return self.call("info")[0]

    # --- processes ---------------------------------------------------------------------------
    def spawn(
        self,
        *,
        user: UserRef,
        argv: list[str],
        limits: Limits | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        tag: TagRef | None = None,
    ) -> dict:
        """Start a background process; returns {"pid": int | None, "sandbox_pid": int}."""
        return self.call(
            "spawn",
            **_without_none(
                {"user": user, "argv": argv, "limits": limits, "cwd": cwd, "env": env, "tag": tag}
            ),
        )[0]

    def spawn_pty(
        self,
        *,
        user: UserRef,
        argv: list[str],
        rows: int,
        cols: int,
        limits: Limits | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        tag: TagRef | None = None,
    ) -> tuple[dict, int]:
        """Start a process on a new PTY; returns (result, master_fd)."""
        return self._call_one_fd(
            "spawn",
            **_without_none(
                {
                    "user": user,
                    "argv": argv,
                    "limits": limits,
                    "cwd": cwd,
                    "env": env,
                    "tag": tag,
                    "pty": True,
                    "rows": rows,
                    "cols": cols,
                }
            ),
        )

    def run(
        self,
        *,
        user: UserRef,
        argv: list[str],
        timeout: float = 60,
        stdin: str | None = None,
        limits: Limits | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        tag: TagRef | None = None,
    ) -> dict:
        """Run to completion: {"returncode", "stdout", "stderr", "*_truncated", "timed_out"}."""
        return self.call(
            "run",
            **_without_none(
                {
                    "user": user,
                    "argv": argv,
                    "timeout": timeout,
                    "stdin": stdin,
                    "limits": limits,
                    "cwd": cwd,
                    "env": env,
                    "tag": tag,
                }
            ),
        )[0]

    def processes(self, *, user: UserRef) -> list[dict]:
        return self.call("processes", user=user)[0]["processes"]

    def signal(
        self, *, user: UserRef, pid: int, signal: Literal["TERM", "KILL", "INT", "HUP"]
    ) -> None:
        self.call("signal", user=user, pid=pid, signal=signal)

    def terminate(self, *, user: UserRef, pid: int, grace: float = 5) -> None:
        self.call("terminate", user=user, pid=pid, grace=grace)

    def kill_tagged(self, *, user: UserRef, tag: TagRef, grace: float = 2) -> list[int]:
        return self.call("kill_tagged", user=user, tag=tag, grace=grace)[0]["pids"]

    # --- cgroups -----------------------------------------------------------------------------
    def cpu_usage(self) -> dict:
        """{"cgroups": "v1"|"v2"|"none", "users": {username: {"cpu_usec": int}}}"""
        return self.call("cpu_usage")[0]

    def set_cpu_weight(self, *, user: UserRef, shares: int) -> bool:
        return self.call("set_cpu_weight", user=user, shares=shares)[0]["applied"]

    # --- files (as the user, beneath the home, or beneath the web directory: area="www") -----
    # `area` is sent only when it is not the home, so these calls still work with an agent
    # that predates areas.
    def fs_list(self, *, user: UserRef, path: str = "", area: Area = "home") -> list[dict]:
        return self.call("fs_list", **_fs_args(user, area, path=path))[0]["entries"]

    def fs_stat(self, *, user: UserRef, path: str, area: Area = "home") -> dict:
        return self.call("fs_stat", **_fs_args(user, area, path=path))[0]

    def fs_mkdir(self, *, user: UserRef, path: str, area: Area = "home") -> None:
        self.call("fs_mkdir", **_fs_args(user, area, path=path))

    def fs_rename(
        self, *, user: UserRef, src: str, dst: str, replace: bool = False, area: Area = "home"
    ) -> None:
        self.call("fs_rename", **_fs_args(user, area, src=src, dst=dst, replace=replace))

    def fs_delete(
        self, *, user: UserRef, path: str, recursive: bool = False, area: Area = "home"
    ) -> None:
        self.call("fs_delete", **_fs_args(user, area, path=path, recursive=recursive))

    def fs_open(
        self,
        *,
        user: UserRef,
        path: str,
        mode: Literal["r", "w", "x"],
        area: Area = "home",
        perm: int | None = None,
    ) -> tuple[int, int]:
        """Open a file as the user; returns (fd, size). The caller closes fd.

        ``perm`` (mode "x" only) sets the new file's permission bits.
        """
        args = _fs_args(user, area, path=path, mode=mode, perm=perm)
        result, fd = self._call_one_fd("fs_open", **args)
        return fd, result["size"]

    # --- consoles ----------------------------------------------------------------------------
    def console_start(
        self,
        *,
        user: UserRef,
        console_id: str,
        argv: list[str],
        rows: int = 24,
        cols: int = 80,
        cwd: str | None = None,
        limits: Limits | None = None,
        homes: list[UserRef] | None = None,
        env: dict[str, str] | None = None,
    ) -> bool:
        """Ensure the console's tmux session exists; True if this call created it.

        ``homes``: other users whose homes the user's tmux server binds at /home/<name>.
        ``env``: variables for the session's program (WARREN_*, API_TOKEN).
        """
        return self.call(
            "console_start",
            **_without_none(
                {
                    "user": user,
                    "console_id": console_id,
                    "argv": argv,
                    "rows": rows,
                    "cols": cols,
                    "cwd": cwd,
                    "limits": limits,
                    "homes": homes or None,
                    "env": env or None,
                }
            ),
        )[0]["created"]

    def console_attach(
        self, *, user: UserRef, console_id: str, read_only: bool, rows: int, cols: int
    ) -> int:
        """Attach a tmux client on a new PTY; returns the master fd (close it to detach)."""
        return self._call_one_fd(
            "console_attach",
            user=user,
            console_id=console_id,
            read_only=read_only,
            rows=rows,
            cols=cols,
        )[1]

    def console_park(
        self, *, user: UserRef, console_id: str, master: int, seconds: float | None = None
    ) -> bool:
        """Hand an attach client (its PTY master, from console_attach) back to the agent for
        the console's next attach; True if kept. ``master`` stays the caller's to close."""
        args = _without_none({"user": user, "console_id": console_id, "seconds": seconds})
        return self.call_with_fds("console_park", [master], **args)[0]["parked"]

    def console_resize(
        self, *, user: UserRef, console_id: str, master: int, rows: int, cols: int
    ) -> None:
        """Resize the terminal of an attach client (its PTY master, from console_attach) and
        tell tmux. ``master`` stays the caller's to close."""
        self.call_with_fds(
            "console_resize", [master], user=user, console_id=console_id, rows=rows, cols=cols
        )

    def ssh_session(
        self,
        *,
        user: UserRef,
        command: str | None,
        pty: bool,
        limits: Limits | None = None,
        rows: int = 24,
        cols: int = 80,
        term: str | None = None,
    ) -> dict[str, int]:
        """Start an SSH session in the user's sandbox; returns its fds by name (``pty`` or
        ``stdin``/``stdout``/``stderr``, and ``status``), the caller's to close."""
        result, fds = self.call(
            "ssh_session",
            **_without_none(
                {
                    "user": user,
                    "limits": limits,
                    "command": command,
                    "pty": pty,
                    "rows": rows,
                    "cols": cols,
                    "term": term,
                }
            ),
        )
        names = result.get("fds", [])
        if len(names) != len(fds):
            _close_all(fds)
            raise AgentUnavailable(f"ssh_session: {len(fds)} fds for names {names}")
        return dict(zip(names, fds, strict=True))

    def console_kill(self, *, user: UserRef, console_id: str, grace: float = 2) -> dict:
        return self.call("console_kill", user=user, console_id=console_id, grace=grace)[0]

    def console_list(self, *, user: UserRef) -> list[dict]:
        return self.call("console_list", user=user)[0]["consoles"]

    def console_capture(self, *, user: UserRef, console_id: str, lines: int = 100) -> str:
        return self.call("console_capture", user=user, console_id=console_id, lines=lines)[0][
            "text"
        ]

    def console_send_input(self, *, user: UserRef, console_id: str, text: str) -> int:
        """Type ``text`` into the console (literal keys; a newline is Enter)."""
        return self.call("console_send_input", user=user, console_id=console_id, text=text)[0][
            "sent"
        ]

    # --- scheduled tasks ---------------------------------------------------------------------
    def task_start(
        self,
        *,
        user: UserRef,
        task_id: int,
        run_id: str,
        command: str,
        log: str,
        wall_seconds: float,
        log_max_bytes: int,
        limits: Limits | None = None,
        env: dict[str, str] | None = None,
    ) -> dict:
        """Start a run; answered at once: {"started": bool, "pid": int | None, "started_at"}."""
        return self.call(
            "task_start",
            **_without_none(
                {
                    "user": user,
                    "task_id": task_id,
                    "run_id": run_id,
                    "command": command,
                    "log": log,
                    "wall_seconds": wall_seconds,
                    "log_max_bytes": log_max_bytes,
                    "limits": limits,
                    "env": env or None,
                }
            ),
        )[0]

    def task_results(self, *, forget: list[str] | None = None) -> dict:
        """{"finished": [{run_id, state, started_at, finished_at, exit_status, cpu_seconds}],
        "running": [run ids]}, after dropping the results of the ``forget`` run ids."""
        return self.call("task_results", forget=list(forget or []))[0]

    def task_kill(self, *, user: UserRef, run_id: str) -> bool:
        return self.call("task_kill", user=user, run_id=run_id)[0]["killed"]

    # --- always-on tasks ----------------------------------------------------------------------
    def always_on_set(
        self,
        *,
        user: UserRef,
        tasks: list[dict],
        log_max_bytes: int,
        backoff_max_seconds: float,
        stable_seconds: float,
        limits: Limits | None = None,
    ) -> list[dict]:
        """Make the user's always-on tasks ``tasks`` ([{task_id, command, log}]); their status."""
        return self.call(
            "always_on_set",
            **_without_none(
                {
                    "user": user,
                    "tasks": tasks,
                    "log_max_bytes": log_max_bytes,
                    "backoff_max_seconds": backoff_max_seconds,
                    "stable_seconds": stable_seconds,
                    "limits": limits,
                }
            ),
        )[0]["tasks"]

    def always_on_status(self, *, user: UserRef) -> list[dict]:
        """[{task_id, state: starting|running|waiting|stopped, pid, started_at, restart_in,
        last_exit_status, restarts}]"""
        return self.call("always_on_status", user=user)[0]["tasks"]

    def always_on_restart(self, *, user: UserRef, task_id: int) -> bool:
        return self.call("always_on_restart", user=user, task_id=task_id)[0]["restarted"]

    # --- web apps ----------------------------------------------------------------------------
    # `app` is the structured settings web_apply/web_reload accept (execution_agent/web/spec.py):
    # domain, enabled, python, processes, working_dir, virtualenv, static [{url, directory,
    # dotfiles}], auth {username, password_hash} | None, force_https, wsgi_template | None,
    # tls {wildcard} | {certificate, key, hsts_max_age} | None.
    def web_info(self) -> dict:
        """{"pythons": ["3.11"], "port": int, "nginx_running": bool, "emperor_running": bool}"""
        return self.call("web_info")[0]

    def web_apply(self, *, user: UserRef, app: dict) -> dict:
        """Install the settings without reloading; {"wsgi_created", "vassal_changed", ...}."""
        return self.call("web_apply", user=user, app=app)[0]

    def web_reload(self, *, user: UserRef, app: dict, timeout: float = 25) -> dict:
        """Install, touch the WSGI file, test; {"ok", "status", "message", "error_log_tail"...}."""
        return self.call("web_reload", user=user, app=app, timeout=timeout)[0]

    def web_remove(self, *, user: UserRef, domain: str) -> dict:
        return self.call("web_remove", user=user, domain=domain)[0]

    def web_stop(self, *, user: UserRef) -> dict:
        """Stop the user's vassals here (a home move's final pass); web_reload starts them."""
        return self.call("web_stop", user=user)[0]

    # --- homes from several file servers (execution_agent/home_mounts.py) -------------------
    def home_mount_set(self, *, user: UserRef, source: str, www_source: str | None = None) -> dict:
        """Show ``source`` (<a file server's mount>/<username>) as the user's home here, and
        ``www_source`` (<its www mount>/<username>), if given, as their web directory."""
        extra = {} if www_source is None else {"www_source": www_source}
        return self.call("home_mount_set", user=user, source=source, **extra)[0]

    def web_acme_challenge_set(self, *, domain: str, token: str, key_authorization: str) -> dict:
        """Serve an ACME HTTP-01 answer at http://<domain>/.well-known/acme-challenge/<token>."""
        args = {"domain": domain, "token": token, "key_authorization": key_authorization}
        return self.call("web_acme_challenge_set", **args)[0]

    def web_acme_challenge_clear(self, *, domain: str, token: str) -> dict:
        return self.call("web_acme_challenge_clear", domain=domain, token=token)[0]

    def web_log(
        self,
        *,
        user: UserRef,
        domain: str,
        kind: LogKind,
        max_bytes: int = 65536,
        rotation: int = 0,
    ) -> dict:
        """{"text": the last max_bytes of the log, "size": its whole size, "previous": [{"rotation":
        n, "size": bytes}] its previous files}; rotation n > 0 reads previous file n instead."""
        return self.call(
            "web_log", user=user, domain=domain, kind=kind, max_bytes=max_bytes, rotation=rotation
        )[0]

    def web_log_open(
        self, *, user: UserRef, domain: str, kind: LogKind, rotation: int = 0
    ) -> tuple[int, int]:
        """Open a log (or previous file n) read-only as the user; returns (fd, size). The caller
        closes fd."""
        result, fd = self._call_one_fd(
            "web_log_open", user=user, domain=domain, kind=kind, rotation=rotation
        )
        return fd, result["size"]


def _fs_args(user: UserRef, area: Area, **args: Any) -> dict[str, Any]:
    args = _without_none({"user": user, **args})
    if area != "home":
        args["area"] = area
    return args


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
