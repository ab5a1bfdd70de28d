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
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from execution_agent.client import AgentClient, AgentError, AgentUnavailable, Limits, UserRef
from metrics.instruments import agent_call_seconds
from servers.models import Server
from servers.selectors import cpu_shares_now, local_server

logger = logging.getLogger(__name__)

__all__ = [
    "AgentError",
    "AgentUnavailable",
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

    def call(self, op: str, /, **args):
        started = time.monotonic()
        outcome = "ok"
        try:
            return super().call(op, **args)
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
) -> AgentClient:
    """A client for ``server``'s execution agent, or for this machine's server of ``kind``.

    The agent's socket is local: Django must run on the execution server it talks to (file
    descriptors cannot cross machines), so without a ``server`` the one on this machine
    (``WARREN_LOCAL_HOSTNAMES``) is asked, never merely the first in the registry. Without
    one, this machine's socket from settings is used (the embedded default, the tests).
    """
    server = server or local_server(kind=kind)
    path = server.execution_agent_socket if server and server.execution_agent_socket else None
    return MeasuredAgentClient(path or str(settings.WARREN_EXEC_AGENT_SOCKET), timeout=10)


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
