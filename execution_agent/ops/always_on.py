"""Always-on task operations: a user's desired set (kept running by the agent), status, restart."""

from __future__ import annotations

from execution_agent.always_on import AlwaysOnSet, AlwaysOnSpec
from execution_agent.errors import OpError, bad_request
from execution_agent.ops import Reply, op
from execution_agent.ops.tasks import MAX_COMMAND_CHARS, MAX_ID
from execution_agent.tasks import check_command
from execution_agent.validation import Args

MAX_TASKS_PER_USER = 100
TASK_FIELDS = frozenset({"task_id", "command", "log"})


def _spec(agent, value: object, index: int) -> AlwaysOnSpec:
    if not isinstance(value, dict):
        raise bad_request(f"args.tasks[{index}]: must be an object of task_id, command, log")
    unknown = sorted(set(value) - TASK_FIELDS)
    if unknown:
        raise bad_request(f"args.tasks[{index}].{unknown[0]}: unknown argument")
    item = Args(value, TASK_FIELDS, agent.config.uid_base)
    try:
        log_parts = item.home_path("log")
        if not log_parts:
            raise bad_request("log: must name a file beneath the home")
        return AlwaysOnSpec(
            task_id=item.int("task_id", minimum=1, maximum=MAX_ID),
            command=check_command(item.str("command", max_chars=MAX_COMMAND_CHARS)),
            log_parts=tuple(log_parts),
        )
    except OpError as error:
        # Said with the item's place in the list: args.tasks[2].command: ...
        error.message = f"args.tasks[{index}]." + error.message.removeprefix("args.")
        raise


@op(
    "always_on_set",
    fields=("user", "limits", "tasks", "log_max_bytes", "backoff_max_seconds", "stable_seconds"),
)
def always_on_set(agent, args: Args) -> Reply:
    """Make the user's always-on tasks exactly `tasks` (saved, so an agent restart keeps them)."""
    user = args.user()
    tasks = args.raw.get("tasks")
    if not isinstance(tasks, list) or len(tasks) > MAX_TASKS_PER_USER:
        raise bad_request(f"args.tasks: must be a list of at most {MAX_TASKS_PER_USER} tasks")
    specs = tuple(_spec(agent, value, index) for index, value in enumerate(tasks))
    if len({spec.task_id for spec in specs}) != len(specs):
        raise bad_request("args.tasks: a task_id appears twice")
    wanted = AlwaysOnSet(
        user=user,
        limits=args.limits() if args.has("limits") else None,
        tasks=specs,
        log_max_bytes=args.int("log_max_bytes", minimum=1024, maximum=1 << 34),
        backoff_max_seconds=args.number("backoff_max_seconds", minimum=1, maximum=86400),
        stable_seconds=args.number("stable_seconds", minimum=1, maximum=86400),
    )
    return Reply({"tasks": agent.always_on.set(wanted)})


@op("always_on_status", fields=("user",))
def always_on_status(agent, args: Args) -> Reply:
    """The state of each of the user's always-on tasks."""
    return Reply({"tasks": agent.always_on.status(args.user())})


@op("always_on_restart", fields=("user", "task_id"))
def always_on_restart(agent, args: Args) -> Reply:
    """Stop the task's run (TERM, KILL after 2 s) and start it again at once, back-off reset."""
    user = args.user()
    task_id = args.int("task_id", minimum=1, maximum=MAX_ID)
    return Reply({"restarted": agent.always_on.restart(user, task_id)})
