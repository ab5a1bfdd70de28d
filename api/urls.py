"""/api/: the HTTP API (tokens, not sessions) and the Account tab's token forms (sessions)."""

import functools

from django.contrib.auth.decorators import login_not_required
from django.urls import URLResolver, include, path, re_path

from api import views
from api.errors import api_error_response
from api.http import api


def _as_api(view):
    # LoginRequiredMiddleware would send scripts to the login page: the API checks its own
    # token instead (api.guard), and its schema and docs are public. A wrong method gets the
    # API's error shape, not Django's plain-text 405.
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            allowed = response.get("Allow", "")
            refusal = api_error_response(405, f"Use {allowed} here, not {request.method}.")
            refusal["Allow"] = allowed
            return refusal
        return response

    return login_not_required(wrapper)


def _token_authenticated(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _token_authenticated(pattern.url_patterns)
        else:
            pattern.callback = _as_api(pattern.callback)
    return patterns


@login_not_required
def not_found(request, rest: str = ""):
    return api_error_response(404, "There is no such API URL: see /api/docs/.")


# Not named app_name: Django would read that as this whole module's namespace.
ninja_patterns, ninja_app, ninja_namespace = api.urls

urlpatterns = [
    path("tokens/new/", views.token_create, name="api_token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="api_token_revoke"),
    path("tokens/sandbox/", views.sandbox_token, name="api_sandbox_token"),
    path("", include((_token_authenticated(ninja_patterns), ninja_app), namespace=ninja_namespace)),
    re_path(r"^v1/(?P<rest>.*)$", not_found),
]
