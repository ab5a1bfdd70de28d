"""The API's console round trip beside the console websocket's, in one run on this machine.

    python -m bench.api          # as root; BENCH_API_ROUNDS=50

One console, one real execution agent, the Procfile's ASGI server. Each round types a command
that prints a fresh marker (`echo R$((1000+i))`: the typed text does not contain the marker,
only its output does) and times until the marker comes back:

- the API: POST send_input, then GET get_latest_output until the marker is on the screen (a
  script's way: each poll is a request, a token check and a tmux capture-pane in the sandbox);
- the anchor, the console websocket the page uses: the keys as a frame, then frames until the
  marker arrives (xterm.js's way, acknowledging each frame).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench.consoles import WarrenTerminal, drain, percentile
from bench.consoles_servers import Fileserver, Warren
from execution_agent.testing.harness import AgentHarness

SEND_MS: list[float] = []  # send_input alone, for the breakdown
POLLS: list[int] = []  # get_latest_output requests until the marker showed


def api_round_trip(http: requests.Session, base: str, console_id: str, marker: int) -> float:
    started = time.perf_counter()
    sent = http.post(
        f"{base}consoles/{console_id}/send_input/",
        json={"input": f"echo R$(({marker - 1000}+1000))\n"},
        timeout=30,
    )
    sent.raise_for_status()
    SEND_MS.append((time.perf_counter() - started) * 1000)
    polls = 0
    while True:
        output = http.get(f"{base}consoles/{console_id}/get_latest_output/", timeout=30)
        output.raise_for_status()
        polls += 1
        if f"R{marker}" in output.json()["output"]:
            POLLS.append(polls)
            return (time.perf_counter() - started) * 1000


async def websocket_round_trips(warren: Warren, console_id: str, rounds: int) -> list[float]:
    samples = []
    async with warren.connect(console_id) as socket:
        terminal = WarrenTerminal(socket)
        await drain(terminal)
        for i in range(rounds):
            marker = 5000 + i
            started = time.perf_counter()
            await terminal.send(f"echo R$(({marker - 1000}+1000))\r")
            await terminal.until(f"R{marker}".encode())
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    if os.geteuid() != 0:
        print("bench.api needs root (the agent drops to a user's uid)", file=sys.stderr)
        return 2
    rounds = int(os.environ.get("BENCH_API_ROUNDS", "50"))
    # The bench's own requests must not meet the per-token limit.
    os.environ["WARREN_API_RATE_LIMIT_PER_MINUTE"] = "1000000"
    base_dir = Path(tempfile.mkdtemp(prefix="warren-bench-api-"))
    harness = AgentHarness(
        uid_base=3_000_000 + 10_000 * (os.getpid() % 1000),
        cgroup_prefix=f"warren-bench-api-{uuid.uuid4().hex[:8]}",
    )
    warren = fileserver = None
    try:
        harness.start()
        fileserver = Fileserver(harness, base_dir)
        warren = Warren(harness, base_dir, fileserver)
        from api.services import api_token_create

        _, token = api_token_create(user=warren.user, name="bench")
        http = requests.Session()
        http.headers["Authorization"] = f"Token {token}"
        base = f"{warren.url}/api/v1/user/{warren.user.username}/"
        console_id = http.post(base + "consoles/", json={"kind": "bash"}, timeout=30).json()["id"]
        api_round_trip(http, base, console_id, 999)  # the first prompt, warm caches
        api = [api_round_trip(http, base, console_id, 2000 + i) for i in range(rounds)]
        socket = asyncio.run(websocket_round_trips(warren, console_id, rounds))
    finally:
        if warren is not None:
            warren.stop()
        if fileserver is not None:
            fileserver.stop()
        harness.cleanup()
        shutil.rmtree(base_dir, ignore_errors=True)

    figures = {
        "p50": (percentile(api, 0.5), percentile(socket, 0.5)),
        "p95": (percentile(api, 0.95), percentile(socket, 0.95)),
    }
    for name, (mine, anchor) in figures.items():
        print(
            f"send_input + get_latest_output {name}: api {mine:.1f} ms, console websocket "
            f"{anchor:.1f} ms, ratio {mine / anchor:.1f}x ({rounds} rounds)"
        )
    print(
        f"breakdown: send_input alone p50 {percentile(SEND_MS, 0.5):.1f} ms; "
        f"get_latest_output requests per round p50 {percentile(POLLS, 0.5)} "
        f"(each request is one tmux command through the user's runner on the agent)"
    )
    metrics = {
        f"round_trip_{name}": {
            "warren": round(mine, 2),
            "anchor": round(anchor, 2),
            "unit": "ms",
            "better": "lower",
            "anchor_name": "the console websocket",
        }
        for name, (mine, anchor) in figures.items()
    }
    print(json.dumps({"bench": "api", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
