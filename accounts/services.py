"""Writes about accounts: provisioning a new user, and changing what they may use.

What other apps enforce outside the database follows through accounts.signals, sent on commit.
"""

from django.db import transaction

from accounts.limits import LIMIT_FIELDS
from accounts.models import CustomLimits, Plan, User
from accounts.signals import limits_changed, user_provisioned
from servers.models import Server
from servers.selectors import server_with_fewest_users


def _send_on_commit(signal, user_id: int) -> None:
    transaction.on_commit(lambda: signal.send(sender=User, user_id=user_id))


@transaction.atomic
def user_provision(*, user: User) -> User:
    """Give a new user what their account needs: a file server, then (on commit) a home."""
    if user.file_server_id is None:
        user.file_server = server_with_fewest_users(kind=Server.Kind.FILE)
        user.save(update_fields=["file_server"])
    _send_on_commit(user_provisioned, user.pk)
    return user


@transaction.atomic
def plan_change(*, user: User, plan: Plan) -> User:
    """Move a user to ``plan``; anything enforced outside the database follows on commit."""
    user.plan = plan
    user.save(update_fields=["plan"])
    _send_on_commit(limits_changed, user.pk)
    return user


@transaction.atomic
def custom_limits_set(*, user: User, note: str = "", **limits) -> CustomLimits:
    """Give a user their own limits instead of their plan's (all limit fields required)."""
    missing = set(LIMIT_FIELDS) - set(limits)
    unknown = set(limits) - set(LIMIT_FIELDS)
    if missing or unknown:
        raise TypeError(f"custom_limits_set: missing {sorted(missing)}, unknown {sorted(unknown)}")
    custom, _ = CustomLimits.objects.update_or_create(user=user, defaults={**limits, "note": note})
    _send_on_commit(limits_changed, user.pk)
    return custom


@transaction.atomic
def custom_limits_clear(*, user: User) -> None:
    """Return a user to their plan's limits."""
    CustomLimits.objects.filter(user=user).delete()
    _send_on_commit(limits_changed, user.pk)
