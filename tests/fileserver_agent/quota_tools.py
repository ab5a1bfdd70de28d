"""Stand-ins for setquota, quota and repquota, for a kernel that has no quota support.

The real tools cannot succeed here (no quotactl), so tests put these on the ext4
backend's WARREN_QUOTA_TOOLS_PATH. Each one records its argv and stdin in calls.jsonl and
answers with whatever the test wrote to ``<tool>.response.json`` (stdout, stderr, exit
status), so tests check the exact command lines and our parsing of real output samples.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIXTURES = Path(__file__).with_name("fixtures") / "quota"

_SCRIPT = """#!{python}
import json, os, sys
directory = {directory!r}
tool = os.path.basename(sys.argv[0])
stdin = sys.stdin.read()
with open(os.path.join(directory, "calls.jsonl"), "a") as log:
    log.write(json.dumps({{"tool": tool, "argv": sys.argv[1:], "stdin": stdin}}) + "\\n")
with open(os.path.join(directory, tool + ".response.json")) as f:
    response = json.load(f)
sys.stdout.write(response["stdout"])
sys.stderr.write(response["stderr"])
sys.exit(response["status"])
"""


class FakeQuotaTools:
    """A directory holding the three fake tools, their canned answers and their call log."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        for tool in ("setquota", "quota", "repquota"):
            script = directory / tool
            script.write_text(_SCRIPT.format(python=sys.executable, directory=str(directory)))
            script.chmod(0o755)
            self.respond(tool)

    def respond(self, tool: str, *, stdout: str = "", stderr: str = "", status: int = 0) -> None:
        """Set what ``tool`` prints and how it exits from now on."""
        answer = {"stdout": stdout, "stderr": stderr, "status": status}
        (self.directory / f"{tool}.response.json").write_text(json.dumps(answer))

    def calls(self) -> list[dict]:
        """Every call so far: ``{"tool", "argv", "stdin"}``."""
        log = self.directory / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]


def sample(name: str) -> str:
    """The text of one output sample from fixtures/quota."""
    return (FIXTURES / name).read_text()
