"""Operations about the agent itself."""

from __future__ import annotations

import os
import re
import shutil

from execution_agent.ops import Reply, op
from execution_agent.protocol import PROTOCOL_VERSION

PYTHON_RE = re.compile(r"^python(3\.\d+)$")


def installed_pythons() -> list[str]:
    versions = [m.group(1) for name in os.listdir("/usr/bin") if (m := PYTHON_RE.match(name))]
    return sorted(versions, key=lambda v: tuple(int(part) for part in v.split(".")))


@op("info")
def info(agent, args) -> Reply:
    """Describe this agent: protocol version, sandbox and cgroup state, warnings, Pythons."""
    return Reply(
        {
            "version": PROTOCOL_VERSION,
            "sandbox": agent.sandboxed,
            "cgroups": agent.cgroups_version,
            "root": agent.root,
            "warnings": list(agent.warnings),
            "pythons": installed_pythons(),
            "ipython": shutil.which("ipython3", path="/usr/bin:/usr/local/bin") is not None,
        }
    )
