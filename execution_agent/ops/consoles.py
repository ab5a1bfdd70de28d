"""Console operations: tmux sessions in the user's sandboxed tmux server, attached on a PTY."""

from __future__ import annotations

import os
import re
import threading

from execution_agent import procs
from execution_agent.errors import OpError, not_found
from execution_agent.homefs import sandbox_cwd
from execution_agent.ops import Reply, op
from execution_agent.ops.processes import finish_pending_kills, kill_if_wedged, kill_tagged_tree
from execution_agent.tmux import Launched
from execution_agent.validation import Args, Tag

CONSOLE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_INPUT_CHARS = 4096
LIST_FORMAT = "#{session_name}\t#{pane_dead}\t#{session_created}\t#{pane_pid}\t#{session_attached}"


def _console_id(args: Args) -> str:
    return args.str("console_id", pattern=CONSOLE_ID_RE, max_chars=64)


@op(
    "console_start",
    fields=("user", "limits", "console_id", "argv", "cwd", "rows", "cols", "homes", "env"),
)
def console_start(agent, args: Args) -> Reply:
    """Ensure the user's tmux server and a session running argv; idempotent per console_id.

    ``homes``: other users whose homes the server binds at /home/<name> (a teacher's
    students); the reply's ``homes`` says which the running server actually has.
    ``env``: variables the new session's program gets (args.env's rules), e.g. API_TOKEN.
    """
    user = args.user()
    homes = args.homes()
    limits = args.limits() if args.has("limits") else None
    console_id = _console_id(args)
    argv = args.argv()
    rows = args.int("rows", minimum=2, maximum=1000, default=24)
    cols = args.int("cols", minimum=2, maximum=1000, default=80)
    cwd = sandbox_cwd(agent, user, args.str("cwd", default=None))
    env = args.env()
    # A kill of this console id still pending (a restart) must not reach the new session.
    finish_pending_kills(agent, user, Tag("console", console_id))
    with agent.tmux.lock(user):
        agent.tmux.ensure_server(user, limits, homes)
        code, _, err = agent.tmux.command(
            user, agent.tmux.new_session_args(console_id, argv, cwd, rows, cols, env), limits=limits
        )
        bound = list(agent.tmux.bound_homes(user))
    agent.tmux.forget_session_names(user)  # a list made before this session lacks it
    if code != 0:
        if "duplicate session" in err:
            return Reply({"created": False, "homes": bound})
        raise OpError("failed", f"tmux new-session: {err.strip()[:500]}")
    # The page opens its websocket next: its attach client starts now, off the reply's path.
    agent.tmux.prepare_attach(user, console_id, rows, cols)
    return Reply({"created": True, "homes": bound})


@op("console_attach", fields=("user", "console_id", "read_only", "rows", "cols"))
def console_attach(agent, args: Args) -> Reply:
    """Attach a new tmux client on a PTY; return the master fd."""
    user = args.user()
    console_id = _console_id(args)
    read_only = args.bool("read_only", default=False)
    rows = args.int("rows", minimum=1, maximum=1000, default=24)
    cols = args.int("cols", minimum=1, maximum=1000, default=80)
    # A client parked by a dashboard process that went away (console_park), or the one
    # prepared by console_start: a live client attached to the session is also the proof that
    # the session exists.
    attached = agent.tmux.take_attach(user, console_id, rows, cols, read_only)
    if attached is None:
        if agent.tmux.attaches_in_agent():
            # The agent's own attach is answered by tmux: no such session is its refusal.
            attached = agent.tmux.attach(
                user, console_id, read_only=read_only, rows=rows, cols=cols
            )
        else:
            if not agent.tmux.server_alive(user):
                raise not_found(f"no console {console_id}")
            attached = _attach_if_session(agent, user, console_id, read_only, rows, cols)
    in_agent = not isinstance(attached.client, Launched)
    return Reply({"in_agent": in_agent}, fds=[("pty", attached.master)])


@op("console_resize", fields=("user", "console_id", "rows", "cols"), fds=1)
def console_resize(agent, args: Args) -> Reply:
    """Resize the terminal of an attach client (its PTY master, fd ``pty``) and tell tmux."""
    user = args.user()
    master = args.take_fd()  # ours from here on: closed whatever happens below
    try:
        console_id = _console_id(args)
        rows = args.int("rows", minimum=1, maximum=1000)
        cols = args.int("cols", minimum=1, maximum=1000)
        agent.tmux.resize(user, console_id, master, rows, cols)
    finally:
        os.close(master)
    return Reply({"resized": True})


def _attach_if_session(agent, user, console_id: str, read_only: bool, rows: int, cols: int):
    """Attach a new client, checking that the session exists at the same time.

    The check and the client's launch run side by side. The check is one ``list-sessions``
    shared by the user's concurrent attaches (Tmux.session_exists): after a deploy every page
    re-attaches at once, and a ``has-session`` each would queue on the user's one runner. A
    client of a missing session is closed again.
    """
    checked: dict = {}

    def check() -> None:
        try:
            checked["code"] = 0 if agent.tmux.session_exists(user, console_id) else 1
        except BaseException as exc:  # re-raised in the op's thread below
            checked["error"] = exc

    checker = threading.Thread(target=check, name="tmux-session-check", daemon=True)
    checker.start()
    try:
        attached = agent.tmux.attach(user, console_id, read_only=read_only, rows=rows, cols=cols)
    finally:
        checker.join()
    if checked.get("code") != 0:
        os.close(attached.master)  # the client hangs up and exits; the reaper reaps it
        if "error" in checked:
            raise checked["error"]
        raise not_found(f"no console {console_id}")
    return attached


@op("console_park", fields=("user", "console_id", "seconds"), fds=1)
def console_park(agent, args: Args) -> Reply:
    """Take back an attach client (its PTY master, fd ``pty``) for the console's next attach."""
    user = args.user()
    master = args.take_fd()  # ours from here on: closed on any refusal below too
    try:
        console_id = _console_id(args)
        seconds = args.number("seconds", minimum=0.1, maximum=30, default=30)
    except BaseException:
        os.close(master)
        raise
    return Reply({"parked": agent.tmux.park(user, console_id, master, seconds)})


@op("console_kill", fields=("user", "console_id", "grace"))
def console_kill(agent, args: Args) -> Reply:
    """Kill a console's tmux session and then every process still tagged with it."""
    user = args.user()
    console_id = _console_id(args)
    grace = args.number("grace", minimum=0, maximum=30, default=2)
    agent.tmux.discard_attach(user, console_id)
    wedged = kill_if_wedged(agent, user)
    if wedged is not None:
        return Reply({"existed": True, "pids": wedged})
    existed = False
    if agent.tmux.server_alive(user):
        try:
            code, _, _ = agent.tmux.command(user, ["kill-session", "-t", f"={console_id}"])
        except OpError:
            # The client could not start or answer (the sandbox filled up meanwhile).
            wedged = kill_if_wedged(agent, user)
            if wedged is not None:
                return Reply({"existed": True, "pids": wedged})
            raise
        existed = code == 0
    # kill-session only HUPs the panes; processes that ignore SIGHUP would live on.
    pids = kill_tagged_tree(agent, user, Tag("console", console_id), grace)
    return Reply({"existed": existed, "pids": pids})


@op("console_list", fields=("user",))
def console_list(agent, args: Args) -> Reply:
    """List the user's consoles: id, whether the pane's program lives, creation time, pid,
    and how many clients are attached (open tabs, prepared and parked clients)."""
    user = args.user()
    if not agent.tmux.server_alive(user):
        return Reply({"consoles": []})
    code, out, err = agent.tmux.command(user, ["list-panes", "-a", "-F", LIST_FORMAT])
    if code != 0:
        # A live server with no sessions answers "no current target" (tmux 3.3).
        if "no current target" in err or "no sessions" in err:
            return Reply({"consoles": []})
        raise OpError("failed", f"tmux list-panes: {err.strip()[:500]}")
    namespace = agent.tmux.server_pid_namespace(user)
    statuses = agent.user_processes(user)
    consoles: dict[str, dict] = {}
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) != 5 or not CONSOLE_ID_RE.match(fields[0]) or fields[0] in consoles:
            continue
        name, dead, created, pane_pid, attached = fields
        host_pid = None
        if namespace is not None and pane_pid.isdigit() and dead != "1":
            host_pid = procs.host_pid(namespace, int(pane_pid), statuses)
        consoles[name] = {
            "console_id": name,
            "alive": dead != "1",
            "created_at": float(created) if created.isdigit() else None,
            "pane_pid": host_pid,
            "clients": int(attached) if attached.isdigit() else 0,
        }
    return Reply({"consoles": list(consoles.values())})


@op("console_capture", fields=("user", "console_id", "lines"))
def console_capture(agent, args: Args) -> Reply:
    """The console's screen plus up to `lines` lines of scrollback, as plain text."""
    user = args.user()
    console_id = _console_id(args)
    lines = args.int("lines", minimum=0, maximum=50000, default=100)
    if not agent.tmux.server_alive(user):
        raise not_found(f"no console {console_id}")
    code, out, err = agent.tmux.command(
        user, ["capture-pane", "-p", "-t", f"={console_id}:", "-S", str(-lines)]
    )
    if code != 0:
        raise not_found(f"no console {console_id}: {err.strip()[:200]}")
    return Reply({"text": out})


@op("console_send_input", fields=("user", "console_id", "text"))
def console_send_input(agent, args: Args) -> Reply:
    """Type ``text`` into the console, as keys (a newline is Enter); for the HTTP API."""
    user = args.user()
    console_id = _console_id(args)
    text = args.str("text", max_chars=MAX_INPUT_CHARS)
    if not agent.tmux.server_alive(user):
        raise not_found(f"no console {console_id}")
    # -l: literal keys, so "C-c" or "Enter" in the text are typed, not interpreted.
    code, _, err = agent.tmux.command(
        user, ["send-keys", "-t", f"={console_id}:", "-l", "--", text]
    )
    if code != 0:
        raise not_found(f"no console {console_id}: {err.strip()[:200]}")
    return Reply({"sent": len(text)})
