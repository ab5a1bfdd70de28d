"""Scheduled task operations: start a run (answered at once), collect finished runs, kill one."""

from __future__ import annotations

import re

from execution_agent.errors import bad_request
from execution_agent.ops import Reply, op
from execution_agent.tasks import TaskRunRequest, check_command
from execution_agent.validation import Args

MAX_ID = 2**62
MAX_COMMAND_CHARS = 1000
MAX_WALL_SECONDS = 7 * 86400
MAX_FORGET = 10000
# Chosen by Django per run (random, so ids never repeat across databases or restarts).
RUN_ID_RE = re.compile(r"^[a-z0-9]{8,40}$")


@op(
    "task_start",
    fields=(
        "user",
        "limits",
        "task_id",
        "run_id",
        "command",
        "log",
        "wall_seconds",
        "log_max_bytes",
        "env",
    ),
)
def task_start(agent, args: Args) -> Reply:
    """Start one run of a task with `bash -c command`, its output appended to `log`."""
    log_parts = args.home_path("log")
    if not log_parts:
        raise bad_request("args.log: must name a file beneath the home")
    req = TaskRunRequest(
        user=args.user(),
        limits=args.limits() if args.has("limits") else None,
        task_id=args.int("task_id", minimum=1, maximum=MAX_ID),
        run_id=args.str("run_id", pattern=RUN_ID_RE, max_chars=40),
        command=check_command(args.str("command", max_chars=MAX_COMMAND_CHARS)),
        log_parts=log_parts,
        wall_seconds=args.number("wall_seconds", minimum=1, maximum=MAX_WALL_SECONDS),
        log_max_bytes=args.int("log_max_bytes", minimum=1024, maximum=1 << 34),
        env=args.env(),
    )
    return Reply(agent.tasks.start(req))


@op("task_results", fields=("forget",))
def task_results(agent, args: Args) -> Reply:
    """Forget the listed run ids' results; return the other finished runs and the running ids."""
    forget = args.raw.get("forget", [])
    if not isinstance(forget, list) or len(forget) > MAX_FORGET:
        raise bad_request(f"args.forget: must be a list of at most {MAX_FORGET} run ids")
    for index, run_id in enumerate(forget):
        if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
            raise bad_request(f"args.forget[{index}]: must be a run id")
    return Reply(agent.tasks.results(forget))


@op("task_kill", fields=("user", "run_id"))
def task_kill(agent, args: Args) -> Reply:
    """End a running run of the user's (TERM, then KILL); its result says it was killed."""
    user = args.user()
    run_id = args.str("run_id", pattern=RUN_ID_RE, max_chars=40)
    return Reply({"killed": agent.tasks.kill(user, run_id)})
