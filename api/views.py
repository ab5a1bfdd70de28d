"""The Account tab's API token forms: create (the token is shown once), revoke, $API_TOKEN."""

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from api import services
from api.models import ApiToken
from config.errors import AppError, error_response

EXPIRY_DAYS = {"": None, "30": 30, "90": 90, "365": 365}


@require_POST
def token_create(request):
    days = EXPIRY_DAYS.get(request.POST.get("expires", ""), "bad")
    if days == "bad":
        return error_response(request, AppError("Choose when the token expires."), "account")
    expires_at = timezone.now() + timedelta(days=days) if days else None
    try:
        row, token = services.api_token_create(
            user=request.user, name=request.POST.get("name", ""), expires_at=expires_at
        )
    except AppError as exc:
        return error_response(request, exc, "account")
    # Rendered, not redirected: the token must never sit in a session or a URL.
    response = render(request, "api/token_created.html", {"row": row, "token": token})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.api_token_revoke(token=token)
    messages.success(request, f"Token {token.prefix}… revoked: scripts using it are refused.")
    return redirect("account")


@require_POST
def sandbox_token(request):
    enabled = request.POST.get("enabled") == "on"
    services.api_sandbox_token_set(user=request.user, enabled=enabled)
    if enabled:
        messages.success(request, "New consoles and tasks will have your token as $API_TOKEN.")
    else:
        messages.success(request, "$API_TOKEN is off, and its token revoked.")
    return redirect("account")
