"""The operation registry. A module of ops registers itself with @op; list it in the import below.

An op is `def handler(agent: Agent, args: Args) -> Reply`. `fields` lists every argument it
accepts (anything else is refused with bad_request before the handler runs). The first line
of the handler's docstring is its description.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Reply:
    """An op's result and the fds to pass with it (named in result["fds"], in order)."""

    result: dict
    fds: list[tuple[str, int]] = field(default_factory=list)

    def wire_result(self) -> dict:
        if self.fds:
            return {**self.result, "fds": [name for name, _ in self.fds]}
        return self.result


@dataclass(frozen=True)
class OpSpec:
    name: str
    handler: Callable
    fields: frozenset[str]
    fds: int = 0


OPS: dict[str, OpSpec] = {}


def op(name: str, *, fields: tuple[str, ...] = (), fds: int = 0) -> Callable[[Callable], Callable]:
    """Register the decorated function as operation `name` accepting `fields` (and up to
    `fds` file descriptors on the request, which it takes with `args.take_fd()`)."""

    def register(handler: Callable) -> Callable:
        if name in OPS:
            raise RuntimeError(f"operation {name} registered twice")
        OPS[name] = OpSpec(name=name, handler=handler, fields=frozenset(fields), fds=fds)
        return handler

    return register


# Every module of operations, imported for its @op registrations (a new module is one more).
from execution_agent.ops import (  # noqa: E402, F401
    always_on,
    cgroup_ops,
    consoles,
    core,
    files,
    home_mounts,
    processes,
    ssh,
    tasks,
    web,
)
