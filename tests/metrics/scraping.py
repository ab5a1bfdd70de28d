"""Reading a Prometheus page the way a scraper does (prometheus_client's own parser)."""

from __future__ import annotations

import secrets

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-" + secrets.token_hex(16)


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a page: {(name, sorted labels): value}."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    """One sample's value; 0 when the series does not exist yet (a counter never touched)."""
    return samples.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))), 0.0)


class Scraper:
    """GET /metrics/ with the bearer token, as Prometheus's scrape config sends it."""

    def __init__(self) -> None:
        self.client = Client()

    def __call__(self) -> dict:
        response = self.client.get("/metrics/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.content[:300]
        assert response["Content-Type"].startswith("text/plain")
        return parse(response.content.decode())


def scraper(settings) -> Scraper:
    """Switch metrics on with this module's token (pytest-django's ``settings``); a Scraper."""
    settings.WARREN_METRICS_TOKEN = TOKEN
    return Scraper()
