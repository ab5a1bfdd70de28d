"""``GET /metrics``: the web role's Prometheus page, for a scraper holding the bearer token."""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from metrics.collectors import WarrenCollector
from metrics.instruments import INSTRUMENTS


@login_not_required
@require_GET
def metrics(request):
    """The instruments (every process's, when they share a directory) and the scrape-time reads."""
    token = settings.WARREN_METRICS_TOKEN
    if not token:
        raise Http404  # metrics are off: the page does not exist
    if not _bearer_matches(request.headers.get("Authorization", ""), token):
        response = HttpResponse("a bearer token is required\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: this machine's instruments, then what is read fresh."""
    registry = CollectorRegistry()
    if settings.WARREN_METRICS_DIR:
        MultiProcessCollector(registry, path=str(settings.WARREN_METRICS_DIR))
    else:
        registry.register(INSTRUMENTS)
    registry.register(WarrenCollector())
    return registry


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, offered = header.partition(" ")
    # Compared in constant time: the token is the only thing between a stranger and the page.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        offered.strip().encode(), token.encode()
    )
