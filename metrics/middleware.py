"""Counting every HTTP answer by the view that gave it (names, not paths: bounded labels)."""

from metrics.instruments import http_requests

# Anything else a client sends is counted as "other": a label must not take any value.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    """First in MIDDLEWARE, so redirects and refusals by later middleware are counted too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None else "unresolved"
        method = request.method if request.method in METHODS else "other"
        http_requests.labels(view=view, method=method, status=response.status_code).inc()
        return response
