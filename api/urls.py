"""/api/: the HTTP API (tokens, not sessions) and the Account tab's token forms (sessions)."""

from django.urls import URLResolver, include, path

from api import views
from api.http import api


def _token_authenticated(patterns):
    # LoginRequiredMiddleware would send scripts to the login page: the API checks its own
    # token instead (api.guard), and its schema and docs are public.
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _token_authenticated(pattern.url_patterns)
        else:
            pattern.callback.login_required = False
    return patterns


# Not named app_name: Django would read that as this whole module's namespace.
ninja_patterns, ninja_app, ninja_namespace = api.urls

urlpatterns = [
    path("tokens/new/", views.token_create, name="api_token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="api_token_revoke"),
    path("tokens/sandbox/", views.sandbox_token, name="api_sandbox_token"),
    path("", include((_token_authenticated(ninja_patterns), ninja_app), namespace=ninja_namespace)),
]
