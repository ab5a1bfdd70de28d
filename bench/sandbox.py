"""Time to start `true` through the execution agent's full sandbox, beside a bare spawn of `true`.

    sudo python -m bench.sandbox            # BENCH_ROUNDS=200 by default

Warren's path is one `run` request: connect, SO_PEERCRED, validation, uid drop, bubblewrap
(user/pid/ipc/uts namespaces, mounts, seccomp), cgroup join via --info-fd/--block-fd, exit,
output collected, answer. The anchor is `subprocess.run(["true"])` from this same process.
Both are measured interleaved in the same run. Ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid

from execution_agent.harness import AgentHarness


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    if os.geteuid() != 0:
        print("bench.sandbox needs root (the agent drops to a user's uid)", file=sys.stderr)
        return 2
    rounds = int(os.environ.get("BENCH_ROUNDS", "200"))
    harness = AgentHarness(
        uid_base=3_000_000 + 10_000 * (os.getpid() % 1000),
        cgroup_prefix=f"warren-bench-{uuid.uuid4().hex[:8]}",
    )
    try:
        harness.start()
        client = harness.client()
        user = harness.user(1, "bench")
        info = client.info()
        print(f"agent: sandbox={info['sandbox']} cgroups={info['cgroups']} root={info['root']}")

        def through_agent() -> None:
            result = client.run(user=user, argv=["true"])
            assert result["returncode"] == 0, result

        def bare() -> None:
            subprocess.run(["true"], check=True)

        for _ in range(10):  # warm up: cgroup and /tmp creation, page cache
            through_agent()
            bare()
        warren, anchor = [], []
        for index in range(1, rounds + 1):
            anchor.append(timed(bare))
            warren.append(timed(through_agent))
            if index % 50 == 0:
                print(
                    f"{index}/{rounds}: warren p50 {statistics.median(warren):.2f} ms, "
                    f"bare p50 {statistics.median(anchor):.2f} ms"
                )
        spawn = [timed(lambda: client.spawn(user=user, argv=["true"])) for _ in range(50)]
        print(
            f"spawn (returns once the command's pid exists) p50 {statistics.median(spawn):.2f} ms"
        )
    finally:
        harness.cleanup()
    p50, p95 = percentile(warren, 0.5), percentile(warren, 0.95)
    a50, a95 = percentile(anchor, 0.5), percentile(anchor, 0.95)
    print(
        f"start `true`: warren p50 {p50:.2f} ms p95 {p95:.2f} ms; bare p50 {a50:.2f} ms "
        f"p95 {a95:.2f} ms; overhead at p50 {p50 - a50:.2f} ms (aim < 15 ms)"
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
