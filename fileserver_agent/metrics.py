"""The agent's Prometheus metrics, served on their own address (``WARREN_AGENT_METRICS_ADDRESS``).

Prometheus cannot sign requests, so the metrics are not on the signed API's port: they are on
a port of their own, bound to an address the operator picks (loopback, or the monitoring
network). They say nothing secret (counts and uids' number over quota, no names).

- requests by endpoint (the URL rule, not the path: bounded labels) and status;
- quota applies (one user, or a batch) by outcome: applied, refused (4xx), failed (5xx);
- users over their soft and hard limits, as last measured by ``GET /v1/usage/<uid>``
  (Warren's Files tab and tasks ask it): an agent knows no usage it was never asked for.
"""

from __future__ import annotations

import threading

from flask import Flask, request
from prometheus_client import CollectorRegistry, Counter, Gauge, make_wsgi_app

from execution_agent.metrics import serve_wsgi

QUOTA_ENDPOINTS = {"quotas.set_quota": "one", "quotas.set_quotas": "batch"}


class AgentMetrics:
    """One agent app's instruments, in a registry of its own (tests build several apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "warren_fileserver_requests",
            "API requests answered, by endpoint and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.quota_applies = Counter(
            "warren_fileserver_quota_applies",
            "Quota applies (one user's, or a batch) by outcome: applied, refused, failed.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.quotas_applied = Counter(
            "warren_fileserver_quotas_applied",
            "Users' limits applied (a batch counts each of its entries).",
            registry=self.registry,
        )
        self.over_quota = Gauge(
            "warren_fileserver_users_over_quota",
            "Users whose last measured usage is over their soft or hard limit.",
            ["limit"],
            registry=self.registry,
        )
        self._over: dict[str, set[int]] = {"soft": set(), "hard": set()}
        self._lock = threading.Lock()
        for limit in self._over:
            self.over_quota.labels(limit=limit).set(0)

    def usage_measured(self, uid: int, *, used: int, soft: int, hard: int) -> None:
        """Remember whether ``uid`` is over its limits now (0 means no limit)."""
        with self._lock:
            for limit, bound in (("soft", soft), ("hard", hard)):
                members = self._over[limit]
                if bound and used > bound:
                    members.add(uid)
                else:
                    members.discard(uid)
                self.over_quota.labels(limit=limit).set(len(members))

    def record_response(self, endpoint: str | None, method: str, status: int) -> None:
        self.requests.labels(endpoint=endpoint or "unmatched", method=method, status=status).inc()
        kind = QUOTA_ENDPOINTS.get(endpoint or "")
        if kind is not None:
            outcome = "applied" if status < 400 else "refused" if status < 500 else "failed"
            self.quota_applies.labels(kind=kind, outcome=outcome).inc()


def install_metrics(app: Flask) -> AgentMetrics:
    """Give ``app`` its instruments and count every response it sends."""
    metrics = AgentMetrics()
    app.extensions["warren_metrics"] = metrics

    @app.after_request
    def _count(response):
        metrics.record_response(request.endpoint, request.method, response.status_code)
        return response

    return metrics


def agent_metrics(app: Flask) -> AgentMetrics:
    return app.extensions["warren_metrics"]


def serve_metrics(app: Flask, address: str):
    """Serve ``app``'s metrics on ``host:port`` in a daemon thread; returns the HTTP server."""
    return serve_wsgi(make_wsgi_app(agent_metrics(app).registry), address)
