"""The Unix-socket server: peer check, one framed request per connection, one log line per op."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

from execution_agent import metrics
from execution_agent.config import ConfigError, drop_secret_variables, load_config
from execution_agent.errors import OpError
from execution_agent.ops import OPS, Reply
from execution_agent.protocol import (
    MAX_REQUEST_BYTES,
    PROTOCOL_VERSION,
    FrameError,
    PeerClosed,
    recv_frame,
    send_frame,
)
from execution_agent.runtime import Agent, StartupError, build_agent
from execution_agent.validation import USERNAME_RE, Args

log = logging.getLogger("execution_agent")
REQUEST_READ_TIMEOUT = 10.0
REPLY_TIMEOUT = 330.0
# What a peer listed in WARREN_EXEC_AGENT_SSH_UIDS may call: the SSH gateway's forced command
# opens sessions and nothing else, so that account cannot spawn, read files or kill as anyone.
SSH_PEER_OPS = frozenset({"ssh_session"})
_PEERCRED = struct.Struct("3i")


def peer_uid(connection: socket.socket) -> int:
    raw = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    _pid, uid, _gid = _PEERCRED.unpack(raw)
    return uid


def handle_request(
    agent: Agent,
    message: object,
    only: frozenset[str] | None = None,
    received: list[int] | None = None,
) -> Reply:
    """Validate the envelope, then run the named op (raises OpError on any refusal).

    ``only``: the ops this peer may call (None: every op). ``received``: the request's fds;
    an op registered with ``fds`` takes them from this list, the caller closes the rest."""
    if not isinstance(message, dict):
        raise OpError("bad_request", "request must be a JSON object")
    unknown = sorted(set(message) - {"v", "op", "args"})
    if unknown:
        raise OpError("bad_request", f"{unknown[0]}: unknown request field")
    if "v" not in message:
        raise OpError("bad_request", "v: required")
    if message["v"] != PROTOCOL_VERSION or isinstance(message["v"], bool):
        raise OpError("unsupported_version", f"v: this agent speaks version {PROTOCOL_VERSION}")
    name = message.get("op")
    if not isinstance(name, str):
        raise OpError("bad_request", "op: must be a string")
    spec = OPS.get(name)
    if spec is None:
        raise OpError("unknown_op", f"op: unknown operation {name[:64]!r}")
    if only is not None and name not in only:
        raise OpError("forbidden", f"op: this peer may not call {name}")
    received = received if received is not None else []
    if len(received) > spec.fds:
        raise OpError("bad_request", f"{name} takes at most {spec.fds} file descriptors")
    args = Args(message.get("args", {}), spec.fields, agent.config.uid_base, received)
    return spec.handler(agent, args)


def _outcome_label(outcome: str) -> str:
    """ "ok", or the error code of an outcome such as "error code=not_found"."""
    for word in outcome.split():
        if word.startswith("code="):
            return word.removeprefix("code=")
    return outcome


def _describe_request(message: object) -> tuple[str, str]:
    """Op name and user for the log line, taken defensively from a not yet validated request."""
    if not isinstance(message, dict):
        return "-", "uid=- user=-"
    op_name = message.get("op") if isinstance(message.get("op"), str) else "-"
    args = message.get("args")
    user = args.get("user") if isinstance(args, dict) else None
    if not isinstance(user, dict):
        return op_name[:64], "uid=- user=-"
    uid = user.get("uid") if isinstance(user.get("uid"), int) else "?"
    username = user.get("username", "?")
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        username = "?"
    return op_name[:64], f"uid={uid} user={username}"


class Handler(socketserver.BaseRequestHandler):
    server: AgentServer

    def handle(self) -> None:
        connection: socket.socket = self.request
        started = time.monotonic()
        uid = peer_uid(connection)
        config = self.server.agent.config
        only = None
        if uid not in config.allowed_uids:
            if uid not in config.ssh_uids:
                self._respond_error(OpError("forbidden", f"peer uid {uid} may not use this agent"))
                log.warning("op=- peer_uid=%d outcome=forbidden reason=peer-not-allowed", uid)
                metrics.op_answered("unknown", "forbidden", time.monotonic() - started)
                return
            only = SSH_PEER_OPS
        op_name, who, outcome = self._serve(connection, only)
        op_label = op_name if op_name in OPS else "unknown"
        metrics.op_answered(op_label, _outcome_label(outcome), time.monotonic() - started)
        log.info(
            "op=%s peer_uid=%d %s outcome=%s ms=%.1f",
            op_name,
            uid,
            who,
            outcome,
            (time.monotonic() - started) * 1000,
        )

    def _serve(
        self, connection: socket.socket, only: frozenset[str] | None
    ) -> tuple[str, str, str]:
        """Read, run and answer one request; return (op, who, outcome) for the log line."""
        connection.settimeout(REQUEST_READ_TIMEOUT)
        try:
            message, received = recv_frame(connection, MAX_REQUEST_BYTES)
        except PeerClosed:
            return "-", "uid=- user=-", "error code=bad_request reason=peer-closed"
        except (FrameError, TimeoutError) as exc:
            self._respond_error(OpError("bad_request", f"malformed frame: {exc}"))
            return "-", "uid=- user=-", "error code=bad_request"
        op_name, who = _describe_request(message)
        # Long enough for any op (run: 300 s) and for a slow reader of a large answer.
        connection.settimeout(REPLY_TIMEOUT)
        fds: list[int] = []
        try:
            # Only an op registered with fds= takes any; whatever is left is closed below.
            reply = handle_request(self.server.agent, message, only, received)
            fds = [fd for _, fd in reply.fds]
            send_frame(connection, {"ok": True, "result": reply.wire_result()}, fds)
            return op_name, who, "ok"
        except OpError as exc:
            self._respond_error(exc)
            return op_name, who, f"error code={exc.code}"
        except Exception:
            log.exception("op=%s crashed", op_name)
            self._respond_error(OpError("failed", "internal error in the agent (see its log)"))
            return op_name, who, "error code=failed"
        finally:
            for fd in fds + received:
                os.close(fd)

    def finish(self) -> None:
        _close_gracefully(self.request)

    def _respond_error(self, error: OpError) -> None:
        with contextlib.suppress(OSError):
            send_frame(self.request, {"ok": False, "error": error.to_wire()})


class AgentServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        path = agent.config.socket_path
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        _remove_stale_socket(path)
        # Created 0600 first so no one can connect before chown/chmod set the real access.
        old_umask = os.umask(0o177)
        try:
            super().__init__(str(path), Handler)
        finally:
            os.umask(old_umask)
        if agent.root:
            os.chown(path, 0, agent.config.socket_gid)
        os.chmod(path, 0o660)


def _close_gracefully(connection: socket.socket) -> None:
    """Half-close, then drain what the peer still sends: closing a Unix socket with unread
    data makes the peer's recv fail with ECONNRESET, which would swallow our answer."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_WR)
        connection.settimeout(1.0)
        drained = 0
        while drained < 4 * MAX_REQUEST_BYTES:
            chunk = connection.recv(65536)
            if not chunk:
                break
            drained += len(chunk)


def _remove_stale_socket(path) -> None:
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise StartupError(f"another agent is already listening on {path}")


def _notify_systemd(state: str) -> None:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.sendto(state.encode(), address)


def main() -> int:
    """Start the agent and serve until SIGTERM/SIGINT."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config = load_config()
        drop_secret_variables()
        agent = build_agent(config)
        server = AgentServer(agent)
    except (ConfigError, StartupError) as exc:
        log.error("%s", exc)
        return 2
    os.umask(0o022)
    for warning in agent.warnings:
        log.warning("WARNING: %s", warning)
    log.info(
        "listening on %s (sandbox=%s cgroups=%s root=%s)",
        config.socket_path,
        agent.sandboxed,
        agent.cgroups_version,
        agent.root,
    )

    def stop(signum, frame) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # No Django in the loop: the saved sets are started again by the agent itself.
    resumed = agent.always_on.resume()
    if resumed:
        log.info("always-on: %d task(s) started again", resumed)
    if config.metrics_address:
        try:
            port = metrics.serve(config.metrics_address).server_address[1]
        except (RuntimeError, OSError) as exc:
            log.error("metrics: %s", exc)
            return 2
        log.info("metrics on http://%s:%d/metrics", config.metrics_address.rpartition(":")[0], port)
    _notify_systemd("READY=1")
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        config.socket_path.unlink(missing_ok=True)
    return 0
