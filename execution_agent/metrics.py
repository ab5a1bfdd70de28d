"""The agent's Prometheus metrics: ops by name and outcome, and how long each took.

Served, when ``WARREN_EXEC_METRICS_ADDRESS`` names a ``host:port``, on that address by a daemon
thread; never on the agent's socket (a scraper has no business there). Names of ops come
from the agent's own registry, so a peer sending nonsense adds one "unknown" series, not one
per guess.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

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
    ops.labels(op=op, outcome=outcome).inc()
    op_seconds.labels(op=op).observe(seconds)


def serve(address: str):
    """Serve the metrics on ``host:port`` in a daemon thread; returns the HTTP server."""
    host, _, port = address.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]"), registry=REGISTRY)
    return server
