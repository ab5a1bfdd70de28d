"""The agent's Prometheus metrics: ops by name and outcome, and how long each took.

Served, when ``WARREN_EXEC_METRICS_ADDRESS`` names a ``host:port``, on that address by a daemon
thread; never on the agent's socket (a scraper has no business there). Names of ops come
from the agent's own registry, so a peer sending nonsense adds one "unknown" series, not one
per guess.

The agent runs on the system Python with the standard library; prometheus_client is the one
optional extra (Debian: python3-prometheus-client). Without it nothing is counted, and asking
for a metrics address is a start-up error.
"""

from __future__ import annotations

import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

try:
    from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
except ImportError:  # pragma: no cover - depends on the machine
    AVAILABLE = False
else:
    AVAILABLE = True

if AVAILABLE:
    REGISTRY = CollectorRegistry()
    ops = Counter(
        "warren_exec_agent_ops",
        "Requests the execution agent answered, by op and outcome (ok or the error code).",
        ["op", "outcome"],
        registry=REGISTRY,
    )
    op_seconds = Histogram(
        "warren_exec_agent_op_seconds",
        "Time from a request's arrival to its answer, by op.",
        ["op"],
        registry=REGISTRY,
        buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 330),
    )


def op_answered(op: str, outcome: str, seconds: float) -> None:
    """Count one answered request (``op`` already reduced to a known name or "unknown")."""
    if AVAILABLE:
        ops.labels(op=op, outcome=outcome).inc()
        op_seconds.labels(op=op).observe(seconds)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass  # a scrape every few seconds is not worth a log line


def serve(address: str) -> WSGIServer:
    """Serve the metrics on ``host:port`` in a daemon thread; returns the HTTP server."""
    if not AVAILABLE:
        raise RuntimeError(
            "WARREN_EXEC_METRICS_ADDRESS is set but prometheus_client is not installed "
            "(Debian: apt-get install python3-prometheus-client)"
        )
    return serve_wsgi(make_wsgi_app(REGISTRY), address)


def serve_wsgi(app, address: str) -> WSGIServer:
    """``app`` on ``host:port`` (IPv6 bracketed) in a daemon thread (shared with the fileserver
    agent, whose prometheus_client version may differ)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")

    class Server(WSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = make_server(host, int(port), app, server_class=Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
    return server
