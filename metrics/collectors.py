"""What ``/metrics`` reads at scrape time: shared state no single process counts.

Consoles (the database), Celery's queues (the broker), the last billing reconciliation (the
database). Each is read fresh at every scrape, so any web node answers the same.
"""

from __future__ import annotations

import logging

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from billing.models import ReconciliationRun
from consoles.models import Console
from servers.models import Server

logger = logging.getLogger(__name__)

RECONCILIATION_OUTCOMES = ("checked", "correct", "updated", "deferred", "skipped", "failed")


class WarrenCollector:
    """The scrape-time metrics of the web role (a prometheus_client custom collector)."""

    def collect(self):
        yield consoles_running()
        yield celery_queue_depths()
        yield from reconciliation_results()


def consoles_running() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "warren_consoles_running",
        "Consoles Warren believes are running, by server.",
        labels=["server"],
    )
    rows = (
        Console.objects.filter(state=Console.State.RUNNING)
        .values("server__hostname")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for row in rows:
        family.add_metric([row["server__hostname"] or "-"], row["count"])
    return family


def queue_names() -> list[str]:
    """The default queue and every execution server's ``exec.<hostname>`` queue."""
    hostnames = (
        Server.objects.exclude(kind=Server.Kind.FILE)
        .values_list("hostname", flat=True)
        .distinct()
        .order_by("hostname")
    )
    return ["default", *(Server(hostname=name).agent_queue for name in hostnames)]


def celery_queue_depths() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "warren_celery_queue_messages",
        "Messages waiting in a Celery queue (not yet taken by a worker).",
        labels=["queue"],
    )
    for name, depth in queue_depths(queue_names()).items():
        family.add_metric([name], depth)
    return family


def queue_depths(names: list[str]) -> dict[str, int]:
    """Each queue's waiting messages, as the broker counts them (a passive declare)."""
    from config.celery import app

    depths = {}
    try:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            for name in names:
                depths[name] = _depth(channel, name)
    except OSError as error:
        # The broker is down: no numbers (the alert on absent series fires), not a 500.
        logger.warning("metrics: broker unreachable: %s", error)
    return depths


def _depth(channel, name: str) -> int:
    try:
        return channel.queue_declare(queue=name, passive=True).message_count
    except Exception:
        return 0


def reconciliation_results():
    run = (
        ReconciliationRun.objects.filter(status=ReconciliationRun.Status.FINISHED)
        .order_by("-finished_at")
        .first()
    )
    counts = GaugeMetricFamily(
        "warren_billing_reconciliation_subscriptions",
        "Subscriptions in the last finished VAT reconciliation, by outcome.",
        labels=["outcome"],
    )
    finished = GaugeMetricFamily(
        "warren_billing_reconciliation_finished_timestamp_seconds",
        "When the last VAT reconciliation finished (Unix time).",
    )
    if run is not None:
        for outcome in RECONCILIATION_OUTCOMES:
            counts.add_metric([outcome], getattr(run, outcome))
        finished.add_metric([], run.finished_at.timestamp())
    yield counts
    yield finished
