"""How Django reaches the agents: clients, and the facts each call carries about a user.

The agents never read Warren's database, so each request carries what they need
(``user_ref``, ``sandbox_limits``). The one idiom for talking to an agent:

- Each app has one adapter module: consoles/tmux.py (the tmux driver), files/agent.py (a
  user's files), files/fileserver.py (homes, quotas, usage), webapps/agent.py (the web role),
  schedules/agent.py (scheduled runs); the servers app uses this module directly
  (processes.py, tasks.py).
- An adapter's functions take Warren's objects (a console, a user, a web app, a server, a
  Location), make one agent call each with what it needs, and return the answer as data.
- Services and selectors call the adapter, never a client's methods; the agent's errors
  (AgentError/AgentUnavailable, FileserverError) come out for the service to word as an
  AppError. files.agent.UserFiles words them itself (every Files view shows them alike).
- Clients are made here (``execution_agent``) and in files/fileserver.py, nowhere else.

An agent listens on a Unix socket on its own machine. A server of the registry that is not
this machine (``WARREN_LOCAL_HOSTNAMES``) is reached through its ``exec.<hostname>`` queue:
``RemoteAgent`` sends each call as ``servers.tasks.agent_call`` to the worker beside that
agent and waits for the answer (the result backend, Redis). Calls that hand back a file
descriptor (attaching a console, opening a file) cannot cross machines and are refused.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from execution_agent.client import AgentClient, AgentError, AgentUnavailable, Limits, UserRef
from metrics.instruments import agent_call_seconds
from servers.models import Server
from servers.selectors import cpu_shares_now, is_local, local_server

logger = logging.getLogger(__name__)

__all__ = [
    "AgentError",
    "AgentUnavailable",
    "RemoteAgent",
    "agent_info",
    "execution_agent",
    "sandbox_limits",
    "user_ref",
]


def user_ref(user) -> UserRef:
    """The identity an agent acts as for ``user``."""
    return {"uid": user.uid, "username": user.username}


def sandbox_limits(user) -> Limits:
    """Per-user cgroup and /tmp limits for the sandbox, with the user's CPU weight now.

    The weight travels with every spawn so that a cgroup made again (after a reboot) starts
    in the tarpit if its user is in it, rather than waiting for the next accounting run.
    """
    return {
        "memory_bytes": settings.WARREN_SANDBOX_MEMORY_BYTES,
        "pids_max": settings.WARREN_SANDBOX_PIDS_MAX,
        "tmp_bytes": settings.WARREN_SANDBOX_TMP_BYTES,
        "cpu_shares": cpu_shares_now(user=user, now=timezone.now()),
    }


class MeasuredAgentClient(AgentClient):
    """The execution agent's client, timing every call for ``/metrics`` (by op and outcome).

    The agent's own client is stdlib only (it ships with the agent); the timing is Django's.
    """

    def call_with_fds(self, op: str, send_fds, /, **args):
        started = time.monotonic()
        outcome = "ok"
        try:
            return super().call_with_fds(op, send_fds, **args)
        except AgentError as error:
            outcome = error.code
            raise
        except AgentUnavailable:
            outcome = "unavailable"
            raise
        finally:
            agent_call_seconds.labels(op=op, outcome=outcome).observe(time.monotonic() - started)


def execution_agent(
    server: Server | None = None, *, kind: str = Server.Kind.CONSOLE
) -> AgentClient | RemoteAgent:
    """A client for ``server``'s execution agent, or for this machine's server of ``kind``.

    Without a ``server`` the one on this machine (``WARREN_LOCAL_HOSTNAMES``) is asked,
    never merely the first in the registry; without one, this machine's socket from settings
    (the embedded default, the tests). A server on another machine is a ``RemoteAgent``.
    """
    server = server or local_server(kind=kind)
    if server is not None and not is_local(server):
        return RemoteAgent(server)
    return local_agent(server)


def local_agent(server: Server | None) -> AgentClient:
    """A client on the socket of ``server``'s agent, which must be on this machine."""
    path = server.execution_agent_socket if server and server.execution_agent_socket else None
    return MeasuredAgentClient(path or str(settings.WARREN_EXEC_AGENT_SOCKET), timeout=10)


# AgentClient's calls whose answers are plain data (no file descriptor): what may cross machines.
REMOTE_CALLS = frozenset(
    {
        "info",
        "processes",
        "signal",
        "terminate",
        "kill_tagged",
        "cpu_usage",
        "set_cpu_weight",
        "fs_list",
        "fs_stat",
        "fs_mkdir",
        "fs_rename",
        "fs_delete",
        "console_kill",
        "console_list",
        "console_capture",
        "task_start",
        "task_results",
        "task_kill",
        "always_on_set",
        "always_on_status",
        "always_on_restart",
        "web_info",
        "web_apply",
        "web_reload",
        "web_remove",
        "web_log",
        "web_stop",
        "home_mount_set",
    }
)


class RemoteAgent:
    """The execution agent of a server on another machine, called through its queue.

    Same methods as AgentClient (keyword arguments) for the calls in REMOTE_CALLS; the
    agent's errors come back as AgentError, and a queue nobody answers in time (the machine
    or its worker down) as AgentUnavailable, as a dead socket would.
    """

    def __init__(self, server: Server, *, timeout: float = 10) -> None:
        self.server = server
        self.timeout = timeout
        self.socket_path = f"{server.agent_queue}:{server.execution_agent_socket}"

    def __getattr__(self, name: str):
        if name not in REMOTE_CALLS:
            raise AttributeError(f"{name} cannot be called on another machine's agent")

        def call(**kwargs):
            return self._call(name, kwargs)

        return call

    def _call(self, name: str, kwargs: dict):
        from celery.exceptions import TimeoutError as ResultTimeout
        from kombu.exceptions import OperationalError

        from servers.tasks import agent_call

        # The agent's own wait (a reload's probe) plus the queue's way there and back.
        wait = self.timeout + 5
        try:
            result = agent_call.apply_async(
                (self.server.pk, name, kwargs), queue=self.server.agent_queue, expires=wait
            )
            answer = result.get(timeout=wait, disable_sync_subtasks=False)
        except ResultTimeout:
            raise AgentUnavailable(f"no answer on {self.server.agent_queue} in {wait} s") from None
        except OperationalError as error:
            raise AgentUnavailable(f"the broker is unreachable: {error}") from None
        if "error" in answer:
            if answer["error"] == "unavailable":
                raise AgentUnavailable(answer["message"])
            raise AgentError(answer["code"], answer["message"], answer.get("errno"))
        return answer["ok"]


AGENT_INFO_CACHE_SECONDS = 60
AGENT_DOWN_CACHE_SECONDS = 15


def agent_info(server: Server | None = None) -> dict | None:
    """The agent's ``info`` (sandbox state, warnings, Pythons), cached; None while it is down.

    A failure is remembered briefly too: a hung agent must not cost every page a timeout.
    """
    client = execution_agent(server)
    # Keyed by the socket itself: server rows come and go, the agent answering is the socket.
    key = f"servers:agent-info:{client.socket_path}"
    info = cache.get(key)
    if info is None:
        try:
            info = client.info()
        except (AgentUnavailable, AgentError) as error:
            logger.info("agent of %s did not answer info: %s", server or "this machine", error)
            info = {}
        cache.set(key, info, AGENT_INFO_CACHE_SECONDS if info else AGENT_DOWN_CACHE_SECONDS)
    return info or None
