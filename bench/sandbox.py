"""Time to start `true` through the execution agent's full sandbox, beside a bare spawn of `true`.

    python -m bench.sandbox            # as root; BENCH_ROUNDS=200 by default

Warren's path is one `run` request: connect, SO_PEERCRED, validation, uid drop, bubblewrap
(user/pid/ipc/uts namespaces, mounts, seccomp), cgroup join via --info-fd/--block-fd, exit,
output collected, answer. The anchor is `subprocess.run(["true"])` from this same process.
A third series runs bubblewrap directly with the agent's own arguments, to show which share
of the overhead is bubblewrap itself. All three are interleaved in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid

from execution_agent import cgroups
from execution_agent.config import load_config
from execution_agent.sandbox import Launch, Sandbox
from execution_agent.testing.harness import AgentHarness
from execution_agent.validation import Limits, UserRef


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def same_sandbox_argv(harness: AgentHarness, user: dict) -> list[str]:
    """The bwrap command line the agent builds for `true` (from the agent's own code)."""
    config = load_config(harness.env())
    sandbox = Sandbox(
        config,
        cgroups.NoCgroups(),
        root=True,
        bwrap="/usr/bin/bwrap",
        setsid="/usr/bin/setsid",
        cgroups_active=False,
    )
    ref = UserRef(uid=user["uid"], username=user["username"])
    tmp = config.run_dir / "tmp" / ref.username / "tmp"
    request = Launch(user=ref, limits=None, argv=["true"], cwd=f"/home/{ref.username}")
    return sandbox._bwrap_argv(request, config.homes_root / ref.username, tmp, Limits())


def measure(harness: AgentHarness, rounds: int) -> dict[str, list[float]]:
    client = harness.client()
    user = harness.user(1, "bench")
    info = client.info()
    print(
        f"agent: sandbox={info['sandbox']} cgroups={info['cgroups']} root={info['root']} "
        f"favordynmods={harness.extra_env.get('WARREN_CGROUP_FAVOR_DYNMODS', '0')}"
    )
    bwrap_argv = same_sandbox_argv(harness, user)

    def through_agent() -> None:
        result = client.run(user=user, argv=["true"])
        assert result["returncode"] == 0, result

    def bare() -> None:
        subprocess.run(["true"], check=True)

    def bwrap_alone() -> None:
        subprocess.run(
            bwrap_argv, check=True, user=user["uid"], group=user["uid"], extra_groups=[], cwd="/"
        )

    series = {"warren": through_agent, "bare": bare, "bwrap_alone": bwrap_alone}
    for _ in range(10):  # warm up: cgroup and /tmp creation, page cache
        for call in series.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in series}
    for index in range(1, rounds + 1):
        for name, call in series.items():
            samples[name].append(timed(call))
        if index % 50 == 0:
            print(
                f"{index}/{rounds}: "
                + ", ".join(
                    f"{name} p50 {statistics.median(values):.2f} ms"
                    for name, values in samples.items()
                )
            )
    samples["spawn"] = [
        timed(lambda: client.spawn(user=user, argv=["sleep", "60"])) for _ in range(50)
    ]
    harness.kill_user_processes()
    return samples


def main() -> int:
    if os.geteuid() != 0:
        print("bench.sandbox needs root (the agent drops to a user's uid)", file=sys.stderr)
        return 2
    rounds = int(os.environ.get("BENCH_ROUNDS", "200"))
    # WARREN_CGROUP_FAVOR_DYNMODS=1 in the environment measures the agent with that knob on.
    passed_on = {
        name: os.environ[name] for name in ("WARREN_CGROUP_FAVOR_DYNMODS",) if name in os.environ
    }
    harness = AgentHarness(
        uid_base=3_000_000 + 10_000 * (os.getpid() % 1000),
        cgroup_prefix=f"warren-bench-{uuid.uuid4().hex[:8]}",
        extra_env=passed_on,
    )
    try:
        harness.start()
        samples = measure(harness, rounds)
    finally:
        harness.cleanup()
    p50, p95 = percentile(samples["warren"], 0.5), percentile(samples["warren"], 0.95)
    a50, a95 = percentile(samples["bare"], 0.5), percentile(samples["bare"], 0.95)
    b50 = percentile(samples["bwrap_alone"], 0.5)
    print(
        f"spawn of `sleep` (answers once the command's host pid exists) p50 "
        f"{percentile(samples['spawn'], 0.5):.2f} ms"
    )
    print(
        f"start `true`: warren p50 {p50:.2f} ms p95 {p95:.2f} ms; bare p50 {a50:.2f} ms "
        f"p95 {a95:.2f} ms; overhead at p50 {p50 - a50:.2f} ms (aim < 15 ms)"
    )
    print(
        f"of which bubblewrap alone (same arguments, no agent) p50 {b50:.2f} ms; "
        f"the agent's own share {p50 - b50:.2f} ms"
    )

    def metric(warren_ms: float, anchor_ms: float) -> dict:
        return {
            "warren": round(warren_ms, 2),
            "anchor": round(anchor_ms, 2),
            "unit": "ms",
            "better": "lower",
            "anchor_name": "bare subprocess",
        }

    print(
        json.dumps(
            {
                "bench": "sandbox",
                "metrics": {"start_true_p50": metric(p50, a50), "start_true_p95": metric(p95, a95)},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
