"""The SSH keys panel on the Account tab (see accounts.dashboard)."""

from django.conf import settings

from accounts.dashboard import Card
from accounts.limits import effective_limits
from ssh import selectors


def ssh_keys_card(request) -> Card:
    """Account tab: the user's keys (fingerprints), add and delete, and how to connect."""
    user = request.user
    context = {
        "keys": list(selectors.ssh_keys_of(user=user)),
        "allowed": effective_limits(user).ssh_allowed,
        "login": settings.WARREN_SSH_LOGIN,
        "host": settings.WARREN_SSH_HOST,
        "port": settings.WARREN_SSH_PORT,
    }
    return Card("ssh/cards/keys.html", context, wide=True)
