"""The Processes page: list a user's processes on every execution server, and kill one.

Only the execution agents know what is running; they list and signal by the user's real uid
and answer "not_found" for any pid that is not that user's, so a pid from a URL is never
trusted here beyond passing it, with the user, to the agent that checks it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from config.errors import AppError
from servers import process_labels
from servers.agents import AgentError, AgentUnavailable, execution_agent, user_ref
from servers.models import Server
from servers.selectors import execution_servers, is_local

# Seconds between the SIGTERM and the SIGKILL that follows if the process is still there.
KILL_GRACE_SECONDS = 5
# Agent refusals that mean "no such process of yours" to the person asking.
NOT_FOUND_CODES = {"not_found", "bad_request", "forbidden"}
# One answer for an unknown server, pid or another user's pid: nothing to tell them apart.
NO_SUCH_PROCESS = "No such process"


@dataclass(frozen=True)
class ProcessRow:
    server_id: int
    server_name: str
    pid: int
    ppid: int
    cmdline: tuple[str, ...]
    cpu_seconds: float
    rss_bytes: int
    started_at: datetime
    tag_kind: str | None
    tag_id: str | None
    label: process_labels.Label | None = None

    @property
    def command(self) -> str:
        """The command line as a shell would take it back (quotes where needed)."""
        return shlex.join(self.cmdline)


@dataclass(frozen=True)
class ProcessListing:
    rows: list[ProcessRow]
    unreachable: list[Server] = field(default_factory=list)  # down, or refused
    elsewhere: list[Server] = field(default_factory=list)  # another machine: not asked


def user_processes(*, user) -> ProcessListing:
    """Every process of ``user`` on every execution server, labelled, oldest first.

    A server whose agent cannot be reached (or refuses) is named in ``unreachable`` rather
    than failing the whole page: the other servers' processes are still worth showing.
    """
    rows: list[ProcessRow] = []
    unreachable: list[Server] = []
    elsewhere: list[Server] = []
    for server in execution_servers():
        if not is_local(server):
            # Its agent's socket is on that machine: opening the same path here would ask
            # this machine's agent instead.
            elsewhere.append(server)
            continue
        try:
            listed = execution_agent(server).processes(user=user_ref(user))
        except (AgentUnavailable, AgentError):
            unreachable.append(server)
            continue
        rows.extend(_row(server, process) for process in listed)
    labels = process_labels.labels_for(user, {(row.tag_kind, row.tag_id) for row in rows})
    labelled = [_with_label(row, labels.get((row.tag_kind, row.tag_id))) for row in rows]
    labelled.sort(key=lambda row: (row.started_at, row.server_id, row.pid))
    return ProcessListing(rows=labelled, unreachable=unreachable, elsewhere=elsewhere)


def _row(server: Server, process: dict) -> ProcessRow:
    return ProcessRow(
        server_id=server.pk,
        server_name=server.hostname,
        pid=int(process["pid"]),
        ppid=int(process["ppid"]),
        cmdline=tuple(process["cmdline"]),
        cpu_seconds=float(process["cpu_seconds"]),
        rss_bytes=int(process["rss_bytes"]),
        started_at=datetime.fromtimestamp(process["started_at"], tz=UTC),
        tag_kind=process.get("tag_kind"),
        tag_id=process.get("tag_id"),
    )


def _with_label(row: ProcessRow, label: process_labels.Label | None) -> ProcessRow:
    return row if label is None else replace(row, label=label)


def process_kill(*, user, server_id: int, pid: int) -> None:
    """SIGTERM ``user``'s process ``pid`` on the server now, SIGKILL it after the grace period.

    Raises AppError (status 404, "No such process") for an unknown server or a pid that is
    not (or no longer) the user's, including another user's live pid: the agent checks
    ownership against the pid it pins, so a pid reused meanwhile by someone else is refused too.
    AgentUnavailable propagates: the process may well exist, we just cannot reach it.
    """
    server = next((s for s in execution_servers() if s.pk == server_id and is_local(s)), None)
    if server is None:
        raise AppError(NO_SUCH_PROCESS, status=404)
    try:
        execution_agent(server).terminate(user=user_ref(user), pid=pid, grace=KILL_GRACE_SECONDS)
    except AgentError as exc:
        if exc.code in NOT_FOUND_CODES:
            raise AppError(NO_SUCH_PROCESS, status=404) from exc
        raise
