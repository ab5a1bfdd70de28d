"""Reads about API tokens: a user's list, the token a request shows, the sandbox's."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from api.models import ApiToken
from api.tokens import looks_like_token, sandbox_token, token_digest


def api_tokens_of(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def api_token_find(*, token: str, now: datetime) -> ApiToken | None:
    """The live token ``token`` is (not expired, its user active), with its user; else None."""
    if not looks_like_token(token):
        return None
    return (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(token), user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )


def sandbox_token_row(user) -> ApiToken | None:
    return ApiToken.objects.filter(user=user, in_sandboxes=True).first()


def sandbox_env_for(user) -> dict[str, str]:
    """What a new console or task of ``user`` gets in its environment: $API_TOKEN if they
    opted in (Account tab), else nothing."""
    row = sandbox_token_row(user)
    if row is None:
        return {}
    # WARREN_URL too, so the `warren` command works in a console with nothing to configure.
    return {
        "API_TOKEN": sandbox_token(user_id=user.pk, salt=row.salt),
        "WARREN_URL": settings.WARREN_SITE_URL,
    }
