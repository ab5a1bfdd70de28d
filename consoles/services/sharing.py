"""Sharing a console with another user, read-only or read-write, and revoking it."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from config.errors import AppError
from consoles.models import Console, Share
from consoles.services.consoles import notify_sockets


@transaction.atomic
def console_share(*, console: Console, username: str, read_only: bool) -> Share | None:
    """Share a console with another user by username; sharing again changes the mode.

    Returns None, without saying so, when no active user has that name: the sharer is told
    the same thing either way, so the form cannot be used to find out who has an account.
    """
    username = (username or "").strip().lower()
    if not username:
        raise AppError("Enter the username to share with.", field="username")
    if username == console.owner.username:
        raise AppError("You cannot share a console with yourself.", field="username")
    sharee = User.objects.filter(username=username, is_active=True).first()
    if sharee is None:
        return None
    share, created = Share.objects.get_or_create(
        console=console, user=sharee, defaults={"read_only": read_only}
    )
    if not created and share.read_only != read_only:
        share.read_only = read_only
        share.save(update_fields=["read_only"])
        notify_sockets(console.pk, "console.shares_changed")
    return share


@transaction.atomic
def console_unshare(*, share: Share) -> None:
    """Revoke a share; the viewer's open socket is closed within seconds."""
    console_id = share.console_id
    share.delete()
    notify_sockets(console_id, "console.shares_changed")
