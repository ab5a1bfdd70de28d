"""Reads about SSH keys: a user's list, and the gateway's question "whose key is this?"."""

from accounts.limits import effective_limits
from servers.agents import sandbox_limits
from ssh.keys import fingerprint_of
from ssh.models import SSHKey
from ssh.services import PAID_ONLY


def ssh_keys_of(*, user):
    return SSHKey.objects.filter(user=user)


def ssh_login_for(*, key_type: str, key_data: str) -> dict | None:
    """What the gateway needs for a login with this key: the owner and their sandbox limits,
    or the owner and why they may not log in; None if no active account holds the key."""
    found = fingerprint_of(key_type, key_data)
    if found is None:
        return None
    key = (
        SSHKey.objects.select_related("user", "user__plan", "user__custom_limits")
        .filter(fingerprint=found, key_type=key_type, user__is_active=True)
        .first()
    )
    if key is None:
        return None
    user = key.user
    answer = {"username": user.username, "uid": user.uid}
    if not effective_limits(user).ssh_allowed:
        return {**answer, "refusal": PAID_ONLY}
    return {**answer, "limits": sandbox_limits(user)}
