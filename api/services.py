"""Writes about API tokens: create (shown once), revoke, the sandbox token, last use."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from accounts.models import User
from api.models import ApiToken
from api.tokens import salt_new, sandbox_token, token_digest, token_new, token_prefix
from config.errors import AppError

MAX_TOKENS = 20
# last_used_at is written at most once a minute per token: a script's loop must not turn
# every GET into a row update.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the token itself (never stored, shown once)."""
    name = name.strip()[:60] or "API token"
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS:
            raise AppError(f"You have {MAX_TOKENS} tokens already: revoke one first.")
        token = token_new()
        row = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=token_prefix(token),
            digest=token_digest(token),
            expires_at=expires_at,
        )
    return row, token


def api_token_revoke(*, token: ApiToken) -> None:
    """Forget a token: the next request that shows it is refused."""
    token.delete()


@transaction.atomic
def api_sandbox_token_set(*, user: User, enabled: bool) -> ApiToken | None:
    """Give (or stop giving) the user's new consoles and tasks a token as $API_TOKEN.

    Turning it off revokes the token, so consoles already running lose their API access too;
    turning it on again when it is on keeps the token the running ones have.
    """
    User.objects.select_for_update().filter(pk=user.pk).first()
    current = ApiToken.objects.filter(user=user, in_sandboxes=True).first()
    if enabled and current is not None:
        return current
    if current is not None:
        current.delete()
    if not enabled:
        return None
    salt = salt_new()
    token = sandbox_token(user_id=user.pk, salt=salt)
    return ApiToken.objects.create(
        user=user,
        name="$API_TOKEN in consoles and tasks",
        prefix=token_prefix(token),
        digest=token_digest(token),
        in_sandboxes=True,
        salt=salt,
    )


def api_token_used(*, token: ApiToken, now: datetime) -> None:
    """Record that ``token`` was used (at most once a minute; a conditional update)."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_GRANULARITY:
        return
    stale = now - LAST_USED_GRANULARITY
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
    ).update(last_used_at=now)
    token.last_used_at = now
