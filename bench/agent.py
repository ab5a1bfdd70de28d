"""Benchmark the fileserver agent: signed requests per second, and batch vs single quotas.

Run as ``python -m bench.agent``. It starts the agent (``python -m fileserver_agent``, du
backend) on a free port with a temporary homes root, then measures:

1. Signed ``GET /v1/usage/<uid>`` requests per second with wrk, beside a bare Werkzeug
   threaded server answering the same requests with a fixed JSON body (the floor: what
   the embedded HTTP server costs before any signing, validation or measuring).
   Each request is pre-signed and used once, as the agent refuses replays.
2. One ``PUT /v1/quotas`` batch of 10,000 users beside the same 10,000 limits sent as
   10,000 ``PUT /v1/quotas/<uid>`` calls, both through FileserverClient.

3. Per quota backend (``--backend-homes``, 10,000 by default): du on a temporary directory
   beside btrfs on a loop-mounted image (root, btrfs-progs), each behind its own agent:
   creating the homes, reading every home's usage (``GET /v1/usage/<uid>`` through
   FileserverClient, twice: a first and a second pass), and one ``PUT /v1/quotas`` batch for
   all of them. du is the anchor btrfs is measured against. ext4 is not measured: this
   kernel cannot mount ext4 with quotas, and its stand-in tools would time Python scripts.

Needs wrk (apt-get install wrk). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fileserver_agent import create_app
from fileserver_agent.client import FileserverClient, QuotaLimits
from fileserver_agent.signing import compute_signature

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-" + secrets.token_hex(16)
UID_BASE = int(os.environ.get("WARREN_UID_BASE", 3_500_000))
MIB = 1024 * 1024

BARE_SERVER = """
import sys
from werkzeug.serving import make_server
BODY = b'{"used_bytes": 16384, "soft_bytes": 0, "hard_bytes": 0, "backend": "du"}'
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
server = make_server("127.0.0.1", 0, app, threaded=True)
print(f"listening on http://127.0.0.1:{server.socket.getsockname()[1]}", flush=True)
server.serve_forever()
"""

WRK_SCRIPT = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local threads = tonumber(args[2])
  requests = {}
  local index = 0
  for line in io.lines(args[1]) do
    if index % threads == id then
      local path, stamp, signature = line:match("([^\\t]+)\\t([^\\t]+)\\t([^\\t]+)")
      table.insert(requests, wrk.format("GET", path, {
        ["X-Warren-Timestamp"] = stamp, ["X-Warren-Signature"] = signature}))
    end
    index = index + 1
  end
  position = 0
end
function request()
  position = position % #requests + 1
  return requests[position]
end
"""


def start(command: list[str], env: dict[str, str], log_dir: Path) -> tuple[subprocess.Popen, str]:
    """Start a server that prints 'listening on URL'; return it and its URL."""
    out = log_dir / f"{secrets.token_hex(3)}.out"
    with open(out, "wb") as stdout, open(out.with_suffix(".err"), "wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=REPO_ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = out.read_text()
        if "listening on " in text:
            return process, text.split("listening on ", 1)[1].split()[0]
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"server did not start: {out.with_suffix('.err').read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_signed_requests(path: Path, uids: list[int], stamps: range) -> int:
    """One pre-signed GET per (uid, timestamp), so no signature is ever sent twice."""
    lines = []
    for stamp in stamps:
        for uid in uids:
            target = f"/v1/usage/{uid}"
            signature = compute_signature(SECRET, "GET", target, stamp, b"")
            lines.append(f"{target}\t{stamp}\t{signature}\n")
    path.write_text("".join(lines))
    return len(lines)


def wrk(url: str, requests_file: Path, script: Path, seconds: int, threads: int = 2) -> dict:
    """Run wrk against ``url``; return requests/s, latency and the count of non-2xx answers."""
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            "-c8",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(requests_file),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    output = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    median = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[median.group(2)]
    return {
        "rate": rate,
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "median_ms": float(median.group(1)) * scale,
    }


def measure_request_rate(
    agent_url: str, env: dict, work: Path, homes: int, seconds: int
) -> tuple[dict, dict]:
    client = FileserverClient(agent_url, SECRET)
    uids = [UID_BASE + index for index in range(homes)]
    started = time.perf_counter()
    for uid in uids:
        client.create_home(f"bench-{uid}", uid=uid, gid=uid)
    print(f"created {homes} homes in {time.perf_counter() - started:.1f} s", flush=True)
    script = work / "signed.lua"
    script.write_text(WRK_SCRIPT)
    requests_file = work / "requests.tsv"
    now = int(time.time())
    # Every timestamp stays inside the agent's 60 s window for the whole run.
    count = write_signed_requests(requests_file, uids, range(now - 2, now + 58))
    print(f"pre-signed {count} distinct requests (each is used once)", flush=True)
    agent = wrk(agent_url, requests_file, script, seconds)
    print(
        f"agent:       {agent['rate']:8.0f} signed req/s, median {agent['median_ms']:.2f} ms, "
        f"{agent['requests']} requests, {agent['non_2xx']} non-2xx",
        flush=True,
    )
    if agent["requests"] > count:
        print("  (more requests than pre-signed ones: replays were refused and counted)")
    bare_process, bare_url = start([sys.executable, "-c", BARE_SERVER], env, work)
    try:
        bare = wrk(bare_url, requests_file, script, seconds)
    finally:
        stop(bare_process)
    print(
        f"bare server: {bare['rate']:8.0f} req/s, median {bare['median_ms']:.2f} ms "
        f"(same Werkzeug threaded server, fixed JSON, no signing)",
        flush=True,
    )
    client.close()
    return agent, bare


def measure_batch(agent_url: str, users: int) -> tuple[float, float]:
    uids = [UID_BASE + 100_000 + index for index in range(users)]
    with FileserverClient(agent_url, SECRET, timeout=600) as client:
        batch = [QuotaLimits(uid, 512 * MIB, 600 * MIB) for uid in uids]
        started = time.perf_counter()
        applied = client.set_quotas(batch)
        batch_seconds = time.perf_counter() - started
        print(f"batch:  1 PUT /v1/quotas of {applied} users in {batch_seconds:.2f} s", flush=True)
        started = time.perf_counter()
        for uid in uids:
            client.set_quota(uid, soft_bytes=256 * MIB, hard_bytes=300 * MIB)
        single_seconds = time.perf_counter() - started
        print(
            f"single: {users} PUT /v1/quotas/<uid> in {single_seconds:.2f} s "
            f"({single_seconds / users * 1000:.2f} ms each)",
            flush=True,
        )
        check = client.get_usage(uids[-1])
        assert check.hard_bytes == 300 * MIB, check
    return batch_seconds, single_seconds


def fill_homes(homes_root: Path, uids: list[int], files_per_home: int) -> None:
    """Give each home some files of a few KiB, owned by its user, as real homes have."""
    for uid in uids:
        home = homes_root / f"b{uid}"
        for index in range(files_per_home):
            path = home / f"file-{index}.txt"
            path.write_bytes(b"x" * (4096 + 512 * (index % 16)))
            os.chown(path, uid, uid)


def measure_backend(
    name: str, homes_root: Path, work: Path, homes: int, files_per_home: int
) -> dict:
    """Create ``homes`` homes on one backend's agent, read each one's usage, batch their quotas."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        "WARREN_HOMES_ROOT": str(homes_root),
        "WARREN_WWW_ROOT": str(work / f"www-{name}"),
        "WARREN_AGENT_STATE_DIR": str(work / f"state-{name}"),
        "WARREN_AGENT_SECRETS": SECRET,
        "WARREN_AGENT_BACKEND": name,
    }
    process, url = start([sys.executable, "-m", "fileserver_agent", "--port", "0"], env, work)
    uids = [UID_BASE + 200_000 + index for index in range(homes)]
    figures = {}
    try:
        with FileserverClient(url, SECRET, timeout=600) as client:
            started = time.perf_counter()
            for uid in uids:
                client.create_home(f"b{uid}", uid=uid, gid=uid)
            figures["create"] = time.perf_counter() - started
            started = time.perf_counter()
            fill_homes(homes_root, uids, files_per_home)
            figures["fill"] = time.perf_counter() - started
            os.sync()  # btrfs accounts written data at its next commit
            for label in ("first", "second"):
                started = time.perf_counter()
                used = sum(client.get_usage(uid).used_bytes for uid in uids)
                figures[f"usage_{label}"] = time.perf_counter() - started
            # The backend alone, without HTTP and signing: what a read costs the file server.
            backend = create_app(env).extensions["warren_quota_backend"]
            started = time.perf_counter()
            for uid in uids:
                backend.usage(uid)
            figures["usage_backend"] = time.perf_counter() - started
            batch = [QuotaLimits(uid, 4 * MIB, 5 * MIB) for uid in uids]
            started = time.perf_counter()
            applied = client.set_quotas(batch)
            figures["batch"] = time.perf_counter() - started
            assert applied == homes, applied
            assert client.get_usage(uids[-1]).hard_bytes == 5 * MIB
    finally:
        stop(process)
    print(
        f"{name:5}: {homes} homes created in {figures['create']:.1f} s, {files_per_home} files "
        f"each in {figures['fill']:.1f} s; usage of every home over HTTP "
        f"{figures['usage_first']:.2f} s then {figures['usage_second']:.2f} s "
        f"({figures['usage_second'] / homes * 1000:.2f} ms a read, {used // homes} bytes "
        f"a home); backend alone {figures['usage_backend']:.3f} s "
        f"({figures['usage_backend'] / homes * 1e6:.0f} us a read); "
        f"quota batch {figures['batch']:.2f} s",
        flush=True,
    )
    return figures


def measure_backends(work: Path, homes: int, files_per_home: int) -> dict[str, dict]:
    """du on a directory beside btrfs on a loop image; btrfs skipped (and said) if impossible."""
    from fileserver_agent.testing import BtrfsImage

    results = {}
    du_homes = work / "homes-du"
    du_homes.mkdir()
    results["du"] = measure_backend("du", du_homes, work, homes, files_per_home)
    reason = BtrfsImage.unavailable()
    if reason:
        print(f"btrfs: not measured ({reason})")
        return results
    # Sparse: it holds the homes' metadata, a few hundred MiB for ten thousand.
    with BtrfsImage(size_bytes=8 * 1024 * MIB, prefix="warren-quota-bench-") as image:
        results["btrfs"] = measure_backend("btrfs", image.mount_point, work, homes, files_per_home)
    print("ext4 : not measured (this kernel cannot mount ext4 with quotas)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per server (8)")
    parser.add_argument("--homes", type=int, default=700, help="homes to read usage of (700)")
    parser.add_argument("--users", type=int, default=10_000, help="quota batch size (10000)")
    parser.add_argument(
        "--backend-homes", type=int, default=10_000, help="homes per backend (10000; 0: skip)"
    )
    parser.add_argument("--files-per-home", type=int, default=20, help="files in each (20)")
    parser.add_argument("--skip-rate", action="store_true", help="skip the wrk and batch parts")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench.agent needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        work = Path(tmp)
        (work / "homes").mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO_ROOT),
            "WARREN_HOMES_ROOT": str(work / "homes"),
            "WARREN_WWW_ROOT": str(work / "www"),
            "WARREN_AGENT_STATE_DIR": str(work / "state"),
            "WARREN_AGENT_SECRETS": SECRET,
            "WARREN_AGENT_BACKEND": "du",
        }
        metrics = {}
        if not args.skip_rate:
            metrics.update(measure_rate_and_batch(env, work, args))
        if args.backend_homes:
            results = measure_backends(work, args.backend_homes, args.files_per_home)
            metrics.update(backend_metrics(results, args))
    print(json.dumps({"bench": "agent", "metrics": metrics}))


def backend_metrics(results: dict[str, dict], args) -> dict:
    if "btrfs" not in results:
        return {}
    du, btrfs = results["du"], results["btrfs"]
    for key, what in (
        ("usage_second", "usage reads over HTTP"),
        ("usage_backend", "usage reads in the backend"),
        ("batch", "quota batch"),
    ):
        print(f"btrfs {what}: {du[key] / btrfs[key]:.1f}x du's speed")
    homes = args.backend_homes
    return {
        f"usage_reads_{homes}_homes_seconds": {
            "warren": round(btrfs["usage_second"], 3),
            "anchor": round(du["usage_second"], 3),
            "unit": "s",
            "better": "lower",
            "anchor_name": f"du backend, the same {homes} homes, second pass",
        },
        f"usage_reads_{homes}_homes_backend_seconds": {
            "warren": round(btrfs["usage_backend"], 4),
            "anchor": round(du["usage_backend"], 4),
            "unit": "s",
            "better": "lower",
            "anchor_name": f"du backend's incremental scan, the same {homes} homes",
        },
        f"quota_batch_{homes}_homes_seconds": {
            "warren": round(btrfs["batch"], 3),
            "anchor": round(du["batch"], 3),
            "unit": "s",
            "better": "lower",
            "anchor_name": "du backend (records limits only, enforces nothing)",
        },
    }


def measure_rate_and_batch(env: dict, work: Path, args) -> dict:
    agent_command = [sys.executable, "-m", "fileserver_agent", "--port", "0"]
    agent_process, agent_url = start(agent_command, env, work)
    print(f"agent (du backend) at {agent_url}", flush=True)
    try:
        agent, bare = measure_request_rate(agent_url, env, work, args.homes, args.seconds)
        batch_seconds, single_seconds = measure_batch(agent_url, args.users)
    finally:
        stop(agent_process)
    print(f"batch is {single_seconds / batch_seconds:.0f}x faster than single calls")
    return {
        "signed_requests_per_second": {
            "warren": round(agent["rate"], 1),
            "anchor": round(bare["rate"], 1),
            "unit": "req/s",
            "better": "higher",
            "anchor_name": "bare Werkzeug threaded server, fixed JSON, no signing",
        },
        "quota_10k_users_seconds": {
            "warren": round(batch_seconds, 3),
            "anchor": round(single_seconds, 3),
            "unit": "s",
            "better": "lower",
            "anchor_name": f"{args.users} single PUT /v1/quotas/<uid> calls",
        },
    }


if __name__ == "__main__":
    main()
