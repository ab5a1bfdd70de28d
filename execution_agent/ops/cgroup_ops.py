"""Operations on per-user cgroups: CPU accounting and the tarpit's CPU weight."""

from __future__ import annotations

from execution_agent.errors import OpError
from execution_agent.ops import Reply, op
from execution_agent.validation import SHARES_MAX, SHARES_MIN, USERNAME_RE, Args


@op("cpu_usage")
def cpu_usage(agent, args: Args) -> Reply:
    """CPU time used by every user cgroup under the prefix (microseconds), and its weight."""
    usage = agent.cgroups.cpu_usage() if agent.cgroups_active else {}
    users = {
        name: {"cpu_usec": usec, "cpu_shares": agent.cgroups.cpu_shares(name)}
        for name, usec in usage.items()
        if USERNAME_RE.match(name)
    }
    return Reply({"cgroups": agent.cgroups_version, "users": users})


@op("set_cpu_weight", fields=("user", "shares"))
def set_cpu_weight(agent, args: Args) -> Reply:
    """Set a user's CPU weight (v1 cpu.shares; v2 cpu.weight, with the same ratios)."""
    user = args.user()
    shares = args.int("shares", minimum=SHARES_MIN, maximum=SHARES_MAX)
    if not agent.cgroups_active:
        return Reply({"applied": False})
    try:
        agent.cgroups.set_cpu_shares(user.username, shares)
    except OSError as exc:
        raise OpError("failed", f"could not set the CPU weight: {exc.strerror}") from None
    return Reply({"applied": True})
