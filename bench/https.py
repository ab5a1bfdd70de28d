"""A hello-world web app over HTTPS the Warren way, beside a hand-written nginx TLS server block.

    python -m bench.https   # as root; BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_WORKERS=2 by default

Warren's path: nginx with Warren's generated configuration (nginx.conf's TLS settings and
default HTTPS server, the site's HTTP and HTTPS blocks, the certificate written by the agent
from web_apply's `tls`) in front of the app's sandboxed vassal. The anchor: a minimal nginx.conf
with one `listen ... ssl` server block, the same certificate and key, and `uwsgi_pass` to the
same vassal's socket, so the ratio is the HTTPS front alone. Both run at once and are loaded in
turn by wrk in the same run, two ways: keep-alive (TLS set up once per connection) and a new
connection for every request (`Connection: close`: a full TLS handshake per request).

wrk takes the TLS server name (SNI) from the URL, so it runs in a private mount namespace
whose /etc/hosts maps the bench's domain to 127.0.0.1 (the machine's own file is untouched).
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
from execution_agent.testing.web import WebFrontProcesses
from execution_agent.web.layout import nginx_worker_user
from tests.certs import TestCA, https_get

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CONNECTIONS = 32
DOMAIN = "bench.example.org"
MODES = [
    (mode, close)
    for mode, close in (("keep-alive", False), ("new connections", True))
    if os.environ.get("BENCH_MODES", "keep-alive,new connections").find(mode) >= 0
]

HELLO = """def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!"]
"""

ANCHOR_NGINX = """worker_processes auto;
user {user};
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
        listen 127.0.0.1:{port} ssl;
        server_name {domain};
        ssl_certificate {base}/chain.pem;
        ssl_certificate_key {base}/key.pem;
        location / {{
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:{socket};
        }}
    }}
}}
"""


def wrk(port: int, hosts: Path, *, close: bool) -> float:
    """Requests per second of one wrk run over HTTPS, with SNI for the bench's domain."""
    extra = ["-H", "Connection: close"] if close else []
    command = [
        "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", *extra, f"https://{DOMAIN}:{port}/"
    ]  # fmt: skip
    output = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts), *command],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in output:
        raise RuntimeError(f"errors under load on port {port}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


class Anchor:
    """nginx by hand: one TLS server block, the same certificate, the same vassal socket."""

    def __init__(self, *, chain: str, key: str, socket: Path) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="warren-bench-https-anchor-"))
        (self.base / "tmp").mkdir()
        (self.base / "chain.pem").write_text(chain)
        (self.base / "key.pem").write_text(key)
        os.chmod(self.base / "key.pem", 0o600)
        self.port = free_port()
        worker = nginx_worker_user()
        user = worker[0] if worker else "nobody"
        conf = ANCHOR_NGINX.format(
            base=self.base, port=self.port, domain=DOMAIN, socket=socket, user=user
        )
        (self.base / "nginx.conf").write_text(conf)
        self.nginx = subprocess.Popen(
            ["nginx", "-p", f"{self.base}/", "-c", str(self.base / "nginx.conf"),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        self.nginx.send_signal(signal.SIGTERM)
        try:
            self.nginx.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.nginx.kill()
            self.nginx.wait()
        shutil.rmtree(self.base, ignore_errors=True)


class Warren:
    """The app with its certificate, installed through the agent's web_reload as Django does."""

    def __init__(self, harness: AgentHarness, *, chain: str, key: str) -> None:
        self.front = WebFrontProcesses(harness.env(), harness.web_dir, harness.web_port).start()
        self.port = harness.web_https_port
        self.user = harness.user(1, "bench")
        client = harness.client(timeout=60)
        app = {
            "domain": DOMAIN, "enabled": True, "python": "3.11", "processes": WORKERS,
            "working_dir": "/home/bench", "virtualenv": None, "static": [], "auth": None,
            "force_https": False, "wsgi_template": None,
            "tls": {"certificate": chain, "key": key},
        }  # fmt: skip
        result = client.run(
            user=self.user, argv=["sh", "-c", "cat > /var/www/bench_example_org_wsgi.py"],
            stdin=HELLO,
        )  # fmt: skip
        assert result["returncode"] == 0, result
        result = client.web_reload(user=self.user, app=app)
        assert result["ok"] and result["https"], result
        self.socket = harness.web_dir / "sockets" / str(self.user["uid"]) / "bench_example_org.sock"

    def stop(self) -> None:
        self.front.stop()


def _first_answer(port: int, ca: TestCA, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return https_get(port, DOMAIN, cadata=ca.root_pem)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> int:
    if os.geteuid() != 0:
        print("bench.https needs root (bubblewrap as users, a private /etc/hosts for wrk)")
        return 1
    ca = TestCA("Bench CA")
    leaf = ca.leaf(DOMAIN)
    chain, key = ca.chain_pem(leaf), leaf.key_pem
    harness = AgentHarness(
        uid_base=3_000_000 + (os.getpid() % 1000) * 10_000,
        cgroup_prefix=f"warren-bench-https-{uuid.uuid4().hex[:8]}",
    )
    harness.start()
    hosts = Path(tempfile.mkstemp(prefix="warren-bench-hosts-")[1])
    hosts.write_text(f"127.0.0.1 {DOMAIN}\n")
    warren = anchor = None
    runs: dict[tuple[str, str], list[float]] = {}
    try:
        warren = Warren(harness, chain=chain, key=key)
        anchor = Anchor(chain=chain, key=key, socket=warren.socket)
        for name, port in (("warren", warren.port), ("anchor", anchor.port)):
            answer = _first_answer(port, ca)
            assert answer.body == b"Hello, World!", (name, answer)
        print(f"{WORKERS} uWSGI workers; wrk -t2 -c{CONNECTIONS} -d{SECONDS}s over HTTPS")
        pair = [("warren", warren.port), ("anchor", anchor.port)]
        for round_number in range(ROUNDS):
            for mode, close in MODES:
                # Taking turns at going first: a neighbour's load or a warm cache favours no one.
                for name, port in pair if round_number % 2 == 0 else pair[::-1]:
                    rps = wrk(port, hosts, close=close)
                    runs.setdefault((mode, name), []).append(rps)
                    print(f"round {round_number + 1} {mode:15} {name:6}: {rps:9.0f} req/s")
    finally:
        if anchor:
            anchor.stop()
        if warren:
            warren.stop()
        harness.cleanup()
        hosts.unlink(missing_ok=True)

    metrics = {}
    for mode, key_name in (("keep-alive", "keepalive"), ("new connections", "new_connections")):
        if (mode, "warren") not in runs:
            continue
        # The median of the interleaved rounds: robust to a neighbour's burst of CPU.
        ours = statistics.median(runs[(mode, "warren")])
        theirs = statistics.median(runs[(mode, "anchor")])
        pairs = zip(runs[(mode, "warren")], runs[(mode, "anchor")], strict=True)
        spread = [round(a / b, 2) for a, b in pairs]
        print(
            f"{mode}: Warren {ours:.0f} req/s, hand-written nginx TLS {theirs:.0f} req/s: "
            f"{ours / theirs:.2f} (per round {spread}; aim >= 0.95)"
        )
        metrics[f"requests_per_second_{key_name}"] = {
            "warren": round(ours, 1),
            "anchor": round(theirs, 1),
            "unit": "req/s",
            "better": "higher",
            "anchor_name": "hand-written nginx TLS server block, same certificate and vassal",
        }
    print(json.dumps({"bench": "https", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
