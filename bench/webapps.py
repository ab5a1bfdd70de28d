"""A hello-world WSGI app served the Warren way, beside a hand-written nginx → uWSGI setup.

    python -m bench.webapps   # as root; BENCH_SECONDS=5 BENCH_ROUNDS=4 BENCH_WORKERS=2 by default

Warren's path: nginx with Warren's generated configuration (its server block, the probe map,
the HTTPS map) → the app's vassal under the Emperor in tyrant mode, inside its bubblewrap
sandbox, with access/error/server logs and harakiri. The anchor: a minimal nginx.conf with one
server block and `uwsgi_pass`, and a plain `uwsgi --master --processes N` of the same app file
with request logging off: the best this stack does on this machine. Both run at once, are
loaded in turn by wrk (a second process, loopback, keep-alive), and are measured in one run.
Each server process runs in a session of its own, as under a process manager (honcho,
systemd), for both setups: sessions are scheduler autogroups, which matter on 2 cores.

Reload time: Warren's is the Reload button's agent op (render, touch the WSGI file, wait for the
new app, test request through nginx) until a response shows the new code; the anchor's is
`touch-reload` on its WSGI file until a response shows the new code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from execution_agent.testing.harness import AgentHarness, free_port
from execution_agent.testing.web import WebFrontProcesses, wait_for_body

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
RELOADS = int(os.environ.get("BENCH_RELOADS", "9"))
CONNECTIONS = 32

HELLO = """def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World! {version}"]
"""

ANCHOR_NGINX = """worker_processes auto;
pid {base}/nginx.pid;
error_log {base}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path {base}/tmp;
    uwsgi_temp_path {base}/tmp;
    proxy_temp_path {base}/tmp;
    fastcgi_temp_path {base}/tmp;
    scgi_temp_path {base}/tmp;
    server {{
        listen 127.0.0.1:{port};
        server_name anchor.localhost;
        location / {{
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:{base}/app.sock;
        }}
    }}
}}
"""


def wrk(port: int, host: str) -> dict[str, float]:
    """Requests per second and p50/p99 latency (ms) of one wrk run."""
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-H", f"Host: {host}",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in output:
        raise RuntimeError(f"errors under load for {host}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return {"rps": rps, "p50": _latency(output, "50%"), "p99": _latency(output, "99%")}


def _latency(output: str, label: str) -> float:
    value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wait_for(port: int, host: str, needle: bytes) -> None:
    # Polled every 2 ms: the reload figures are read off this.
    wait_for_body(port, host, needle, timeout=30, interval=0.002)


class Anchor:
    """nginx + uWSGI by hand: nothing of Warren in the path."""

    def __init__(self, uid: int) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="warren-bench-anchor-"))
        (self.base / "tmp").mkdir()
        self.port = free_port()
        self.app = self.base / "hello.py"
        self.app.write_text(HELLO.format(version=0))
        os.chmod(self.base, 0o755)  # noqa: S103 - nginx's workers reach the socket in it
        os.chown(self.base, uid, uid)
        os.chown(self.app, uid, uid)
        (self.base / "nginx.conf").write_text(ANCHOR_NGINX.format(base=self.base, port=self.port))
        self.uwsgi = subprocess.Popen(
            ["uwsgi", "--plugins", "python311", "--master", "--processes", str(WORKERS),
             "--socket", str(self.base / "app.sock"), "--chmod-socket=666",
             "--wsgi-file", str(self.app), "--touch-reload", str(self.app),
             "--disable-logging", "--uid", str(uid), "--gid", str(uid)],
            stdout=subprocess.DEVNULL, stderr=open(self.base / "uwsgi.log", "wb"),  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        self.nginx = subprocess.Popen(
            ["nginx", "-p", f"{self.base}/", "-c", str(self.base / "nginx.conf"),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_for(self.port, "anchor.localhost", b"Hello")
        except TimeoutError:
            print((self.base / "uwsgi.log").read_text()[-3000:])
            self.stop()
            raise

    def reload(self, version: int) -> float:
        self.app.write_text(HELLO.format(version=version))
        started = time.perf_counter()
        os.utime(self.app)
        wait_for(self.port, "anchor.localhost", f"World! {version}".encode())
        return (time.perf_counter() - started) * 1000

    def stop(self) -> None:
        # SIGINT: uWSGI takes SIGTERM as "reload".
        for process in (self.nginx, self.uwsgi):
            process.send_signal(signal.SIGINT if process is self.uwsgi else signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


class Warren:
    """The app made the way the Web tab makes it, served by Warren's nginx and Emperor."""

    def __init__(self, harness: AgentHarness) -> None:
        self.harness = harness
        self.front = WebFrontProcesses(harness.env(), harness.web_dir, harness.web_port).start()
        self.port = harness.web_port
        self.user = harness.user(1, "bench")
        self.client = harness.client(timeout=60)
        self.app = {
            "domain": "bench.localhost", "enabled": True, "python": "3.11",
            "processes": WORKERS, "working_dir": "/home/bench", "virtualenv": None,
            "static": [], "auth": None, "force_https": False, "wsgi_template": None,
        }  # fmt: skip
        self.write(0)
        result = self.client.web_reload(user=self.user, app=self.app)
        assert result["ok"], result

    def write(self, version: int) -> None:
        text = HELLO.format(version=version)
        result = self.client.run(
            user=self.user, argv=["sh", "-c", "cat > /var/www/bench_localhost_wsgi.py"], stdin=text
        )
        assert result["returncode"] == 0, result

    def reload(self, version: int) -> float:
        self.write(version)
        started = time.perf_counter()
        result = self.client.web_reload(user=self.user, app=self.app)
        assert result["ok"], result
        wait_for(self.port, "bench.localhost", f"World! {version}".encode())
        return (time.perf_counter() - started) * 1000

    def stop(self) -> None:
        self.front.stop()


def main() -> int:
    if os.geteuid() != 0:
        print("bench.webapps needs root (tyrant mode, bubblewrap as users)")
        return 1
    harness = AgentHarness(
        uid_base=3_000_000 + (os.getpid() % 1000) * 10_000,
        cgroup_prefix=f"warren-bench-{uuid.uuid4().hex[:8]}",
    )
    harness.start()
    warren = anchor = None
    runs: dict[str, list] = {"warren": [], "anchor": []}
    reloads: dict[str, list] = {"warren": [], "anchor": []}
    try:
        warren = Warren(harness)
        anchor = Anchor(harness.uid_base + 2)
        print(f"{WORKERS} uWSGI workers each; wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, keep-alive")
        for round_number in range(ROUNDS):
            for name, port, host in (
                ("warren", warren.port, "bench.localhost"),
                ("anchor", anchor.port, "anchor.localhost"),
            ):
                result = wrk(port, host)
                runs[name].append(result)
                print(
                    f"round {round_number + 1} {name:6}: {result['rps']:9.0f} req/s  "
                    f"p50 {result['p50']:.2f} ms  p99 {result['p99']:.2f} ms"
                )
        for version in range(1, RELOADS + 1):
            reloads["warren"].append(warren.reload(version))
            reloads["anchor"].append(anchor.reload(version))
        for name, samples in reloads.items():
            print(f"reload {name:6}: p50 {statistics.median(samples):.0f} ms  "
                  f"(min {min(samples):.0f}, max {max(samples):.0f})")  # fmt: skip
    finally:
        if anchor:
            anchor.stop()
        if warren:
            warren.stop()
        harness.cleanup()

    def mean(name: str, key: str) -> float:
        # The median of the interleaved rounds: robust to a neighbour's burst of CPU.
        return round(statistics.median(run[key] for run in runs[name]), 2)

    anchor_name = "hand-written nginx -> uWSGI"
    metrics = {
        "requests_per_second": {"better": "higher", "unit": "req/s", "key": "rps"},
        "latency_p50": {"better": "lower", "unit": "ms", "key": "p50"},
        "latency_p99": {"better": "lower", "unit": "ms", "key": "p99"},
    }
    out = {
        name: {
            "warren": mean("warren", spec["key"]),
            "anchor": mean("anchor", spec["key"]),
            "unit": spec["unit"],
            "better": spec["better"],
            "anchor_name": anchor_name,
        }
        for name, spec in metrics.items()
    }
    out["reload_p50"] = {
        "warren": round(statistics.median(reloads["warren"]), 1),
        "anchor": round(statistics.median(reloads["anchor"]), 1),
        "unit": "ms",
        "better": "lower",
        "anchor_name": "touch-reload on a hand-written uWSGI",
    }
    ratio = out["requests_per_second"]["warren"] / out["requests_per_second"]["anchor"]
    print(f"throughput: Warren is {ratio:.2f} of the hand-written setup (aim: >= 0.9)")
    print(json.dumps({"bench": "webapps", "metrics": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
