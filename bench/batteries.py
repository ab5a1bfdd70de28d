"""``pip install`` of five common packages into a new virtualenv in a sandbox, with the batteries'
wheels directory beside the same install from PyPI.

    python -m bench.batteries [--rounds 2] [--batteries-dir DIR]     # as root

It builds the batteries from deploy/batteries/requirements.txt with bin/lib/common.sh's
``ensure_batteries`` (or reuses ``--batteries-dir``), starts an execution agent of its own
that shows them at /opt/warren, and times, inside a user's sandbox (what a console runs):

* warren (offline): ``pip install --no-index`` — only the wheels directory, through pip's
  site-wide config (find-links);
* warren (default): plain ``pip install`` — the wheels directory and PyPI together, as a user
  types it;
* anchor: the same install with pip's configuration ignored (``PIP_CONFIG_FILE=/dev/null``),
  from PyPI only.

Each round uses a fresh virtualenv and ``--no-cache-dir``, so no run feeds the next.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from execution_agent.testing.harness import AgentHarness, random_uid_base

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("requests", "numpy", "flask", "pyyaml", "python-dateutil")
VARIANTS = {
    "offline": "pip install --no-cache-dir --no-index",
    "default": "pip install --no-cache-dir",
    "pypi": "PIP_CONFIG_FILE=/dev/null pip install --no-cache-dir",
}


def build_batteries(directory: Path) -> None:
    listing = REPO_ROOT / "deploy" / "batteries" / "requirements.txt"
    script = f'set -euo pipefail; source "{REPO_ROOT}/bin/lib/common.sh"; '
    script += f'ensure_batteries "{listing}" "{directory}"'
    started = time.perf_counter()
    subprocess.run(["bash", "-c", script], check=True)
    print(f"batteries ready in {time.perf_counter() - started:.1f} s: {directory}", flush=True)


def timed_install(agent: AgentHarness, user: dict, variant: str, number: int) -> float:
    """Seconds the install took inside the sandbox (venv creation not counted)."""
    venv = f"$HOME/venv-{variant}-{number}"
    command = (
        f"python3 -m venv {venv} && . {venv}/bin/activate && TIMEFORMAT='elapsed %R' && "
        f"time ({VARIANTS[variant]} --quiet {' '.join(PACKAGES)}) 2>&1; rm -rf {venv}"
    )
    client = agent.client()
    run_id = f"bench{uuid.uuid4().hex[:12]}"
    client.task_start(
        user=user,
        task_id=1,
        run_id=run_id,
        command=command,
        log=f"logs/{run_id}.log",
        wall_seconds=900,
        log_max_bytes=1 << 20,
    )
    while not any(r["run_id"] == run_id for r in client.task_results()["finished"]):
        time.sleep(0.2)
    log = (agent.homes / user["username"] / "logs" / f"{run_id}.log").read_text()
    match = re.search(r"elapsed ([\d.]+)", log)
    if match is None:
        raise SystemExit(f"{variant} install failed:\n{log[-2000:]}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batteries-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warren-quota-bench-batteries-", dir="/tmp") as tmp:
        batteries = args.batteries_dir or Path(tmp) / "batteries"
        Path(tmp).chmod(0o755)
        build_batteries(batteries)
        harness = AgentHarness(
            uid_base=random_uid_base(),
            cgroup_prefix=f"warren-quota-bench-{uuid.uuid4().hex[:8]}",
            extra_env={"WARREN_BATTERIES_DIR": str(batteries)},
        )
        times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        with harness.running():
            user = harness.user(1, "bench")
            for number in range(args.rounds):
                for variant in VARIANTS:  # interleaved: the machine's noise hits all three
                    seconds = timed_install(harness, user, variant, number)
                    times[variant].append(seconds)
                    print(f"round {number + 1} {variant:8}: {seconds:6.2f} s", flush=True)
    median = {variant: statistics.median(values) for variant, values in times.items()}
    print(f"pip install {' '.join(PACKAGES)} into a new virtualenv in a sandbox (median):")
    for variant, seconds in median.items():
        print(f"  {variant:8} {seconds:6.2f} s  ({median['pypi'] / seconds:.1f}x PyPI's speed)")
    metrics = {
        f"pip_install_five_{variant}_seconds": {
            "warren": round(median[variant], 2),
            "anchor": round(median["pypi"], 2),
            "unit": "s",
            "better": "lower",
            "anchor_name": "the same install from PyPI, pip's config ignored",
        }
        for variant in ("offline", "default")
    }
    print(json.dumps({"bench": "batteries", "metrics": metrics}))


if __name__ == "__main__":
    main()
