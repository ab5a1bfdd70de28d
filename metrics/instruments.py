"""The web role's Prometheus instruments: what Django processes count as they work.

Other apps import these and call ``.inc()``/``.observe()`` where the thing happens (the
middleware, the console consumer, the agent client, the quota tasks). What is read from the
database or the broker at scrape time is in ``collectors.py`` instead.

With ``WARREN_METRICS_DIR`` set, settings export it as ``PROMETHEUS_MULTIPROC_DIR`` before
prometheus_client is first imported, and every Django process on the machine (the ASGI
server, each Celery worker process) writes its values there; ``/metrics`` adds them up. Without
it, each process counts in memory and ``/metrics`` shows the serving process's own counts.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Not prometheus_client's global REGISTRY: the scrape builds its own registry each time
# (views.py), and tests can read these without the library's process collectors.
INSTRUMENTS = CollectorRegistry()

http_requests = Counter(
    "warren_http_requests",
    "HTTP requests answered, by view name and status code.",
    ["view", "method", "status"],
    registry=INSTRUMENTS,
)
websocket_sessions = Gauge(
    "warren_websocket_sessions",
    "Websocket sessions open now, by consumer.",
    ["consumer"],
    registry=INSTRUMENTS,
    multiprocess_mode="livesum",
)
agent_call_seconds = Histogram(
    "warren_agent_call_seconds",
    "Time Django waited for an execution agent's answer, by op and outcome.",
    ["op", "outcome"],
    registry=INSTRUMENTS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
quota_apply_failures = Counter(
    "warren_quota_apply_failures",
    "Quota applies (one user's or a server's batch) a file server did not take, by reason.",
    ["reason"],
    registry=INSTRUMENTS,
)
