"""The tmux driver: consoles' adapter for each console server's execution agent.

The agent keeps one sandboxed tmux server per user; a console is a session in it named by the
console's id. Callers pass the console and its owner; the only query here is the owner's CPU
weight, which a new session's limits carry (servers.agents.sandbox_limits). Failures come out
as AgentError/AgentUnavailable (re-exported here) for the console services to word.

One idiom for Django talking to an agent (servers/agents.py says it in full): an adapter
module per app turns Warren's objects into agent calls, one function each; services and
selectors call those, never a client's methods, and word the agent's errors for the user.
"""

from __future__ import annotations

from servers.agents import (
    AgentError,
    AgentUnavailable,
    agent_info,
    execution_agent,
    sandbox_limits,
    user_ref,
)

__all__ = [
    "AgentError",
    "AgentUnavailable",
    "agent_facts",
    "attach",
    "capture",
    "kill",
    "live_states",
    "park",
    "send_input",
    "start",
]


def _agent(console):
    return execution_agent(console.server)


def agent_facts(server=None) -> dict:
    """The console server's installed Pythons and IPython (from the agent's cached info)."""
    info = agent_info(server)
    if info is None:
        raise AgentUnavailable("the console server's agent is not answering")
    return {"pythons": list(info.get("pythons", [])), "ipython": bool(info.get("ipython"))}


def start(console, *, rows: int = 24, cols: int = 80) -> bool:
    """Create the console's tmux session (no-op if it exists); True if created.

    A teacher's tmux server binds each current student's home at /home/<student>; a user
    who opted in gets their API token as $API_TOKEN (api.selectors.sandbox_env_for).
    """
    from api.selectors import sandbox_env_for
    from education.selectors import student_homes_of

    return _agent(console).console_start(
        user=user_ref(console.owner),
        console_id=console.pk,
        argv=list(console.argv),
        cwd=console.cwd,
        rows=rows,
        cols=cols,
        limits=sandbox_limits(console.owner),
        homes=[user_ref(student) for student in student_homes_of(teacher=console.owner)],
        env=sandbox_env_for(console.owner),
    )


def kill(console) -> None:
    """End the console's session and every process tagged with it."""
    _agent(console).console_kill(user=user_ref(console.owner), console_id=console.pk)


def live_states(owner, server=None) -> dict[str, bool]:
    """{console id: alive} for every session the owner's tmux server holds on ``server``."""
    consoles = execution_agent(server).console_list(user=user_ref(owner))
    return {entry["console_id"]: bool(entry["alive"]) for entry in consoles}


def attach(console, *, read_only: bool, rows: int, cols: int) -> int:
    """A tmux client on a new PTY, as the console's owner; returns the master fd."""
    return _agent(console).console_attach(
        user=user_ref(console.owner),
        console_id=console.pk,
        read_only=read_only,
        rows=rows,
        cols=cols,
    )


def park(console, fd: int) -> bool:
    """Hand the attach client on ``fd`` (from attach) back to the agent for the next attach.

    The agent keeps it 30 s for the page reconnecting to another dashboard process (a
    deploy); ``fd`` stays the caller's to close. True if the agent kept it.
    """
    return _agent(console).console_park(
        user=user_ref(console.owner), console_id=console.pk, master=fd
    )


def resize(console, fd: int, *, rows: int, cols: int) -> None:
    """Resize the terminal of the attach client on ``fd`` (from attach) and tell tmux."""
    _agent(console).console_resize(
        user=user_ref(console.owner), console_id=console.pk, master=fd, rows=rows, cols=cols
    )


def capture(console, *, lines: int = 100) -> str:
    """The console's screen and ``lines`` of scrollback, as text."""
    return _agent(console).console_capture(
        user=user_ref(console.owner), console_id=console.pk, lines=lines
    )


def send_input(console, text: str) -> int:
    """Type ``text`` into the console as its owner; returns how many characters were sent."""
    return _agent(console).console_send_input(
        user=user_ref(console.owner), console_id=console.pk, text=text
    )
