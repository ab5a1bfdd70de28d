"""Writes about SSH keys: add (paid plans only), delete. Deleting a key refuses it at once:
the gateway asks for every login (ssh_gateway/keys.py), nothing is cached on the way."""

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.limits import effective_limits
from config.errors import AppError
from ssh.keys import parse_keys
from ssh.models import SSHKey

PAID_ONLY = "SSH access comes with paid plans: upgrade on the Account tab to log in with SSH."


@transaction.atomic
def ssh_keys_add(*, user, text: str) -> list[SSHKey]:
    """Add every key pasted in ``text`` (one per line), all or none."""
    if not effective_limits(user).ssh_allowed:
        raise AppError(PAID_ONLY, field="keys", status=403)
    parsed = parse_keys(text)
    fingerprints = [key.fingerprint for key in parsed]
    if len(set(fingerprints)) != len(fingerprints):
        raise AppError("The same key is pasted twice.", field="keys")
    held = SSHKey.objects.filter(user=user).count()
    if held + len(parsed) > settings.WARREN_SSH_MAX_KEYS:
        raise AppError(
            f"An account holds at most {settings.WARREN_SSH_MAX_KEYS} SSH keys; you have {held}.",
            field="keys",
        )
    if SSHKey.objects.filter(fingerprint__in=fingerprints).exists():
        # One key, one account: the key alone says who is logging in. Whose it is stays unsaid.
        raise AppError(
            "That key is already in use (on this account or another): make a new one.",
            field="keys",
        )
    try:
        with transaction.atomic():
            return SSHKey.objects.bulk_create(
                SSHKey(
                    user=user,
                    key_type=key.key_type,
                    key_data=key.key_data,
                    fingerprint=key.fingerprint,
                    bits=key.bits,
                    comment=key.comment,
                )
                for key in parsed
            )
    except IntegrityError:  # the same key added at the same moment elsewhere
        raise AppError("That key is already in use: make a new one.", field="keys") from None


@transaction.atomic
def ssh_key_delete(*, key: SSHKey) -> None:
    """Remove a key; the next login with it is refused."""
    key.delete()
