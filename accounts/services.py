"""Writes about accounts: provisioning a new user, and changing what they may use."""

from django.db import transaction

from accounts.limits import LIMIT_FIELDS
from accounts.models import CustomLimits, Plan, User
from servers.models import Server
from servers.selectors import server_with_fewest_users

_limits_changed_hooks: list = []


def on_limits_changed(hook):
    """Register ``hook(user_id)`` to run after commit whenever a user's limits change.

    Apps that enforce a limit outside the database (disk quotas on the file server, CPU
    weight on execution servers) register here instead of accounts importing them.
    """
    _limits_changed_hooks.append(hook)
    return hook


_provisioned_hooks: list = []


def on_user_provisioned(hook):
    """Register ``hook(user_id)`` to run after commit once a new user is provisioned."""
    _provisioned_hooks.append(hook)
    return hook


def _after_commit(hooks, user_id: int) -> None:
    for hook in hooks:
        transaction.on_commit(lambda hook=hook: hook(user_id))


@transaction.atomic
def user_provision(*, user: User) -> User:
    """Give a new user what their account needs: a file server, then (on commit) a home."""
    if user.file_server_id is None:
        user.file_server = server_with_fewest_users(kind=Server.Kind.FILE)
        user.save(update_fields=["file_server"])
    _after_commit(_provisioned_hooks, user.pk)
    return user


@transaction.atomic
def plan_change(*, user: User, plan: Plan) -> User:
    """Move a user to ``plan``; anything enforced outside the database follows on commit."""
    user.plan = plan
    user.save(update_fields=["plan"])
    _after_commit(_limits_changed_hooks, user.pk)
    return user


@transaction.atomic
def custom_limits_set(*, user: User, note: str = "", **limits) -> CustomLimits:
    """Give a user their own limits instead of their plan's (all limit fields required)."""
    missing = set(LIMIT_FIELDS) - set(limits)
    unknown = set(limits) - set(LIMIT_FIELDS)
    if missing or unknown:
        raise TypeError(f"custom_limits_set: missing {sorted(missing)}, unknown {sorted(unknown)}")
    custom, _ = CustomLimits.objects.update_or_create(user=user, defaults={**limits, "note": note})
    _after_commit(_limits_changed_hooks, user.pk)
    return custom


@transaction.atomic
def custom_limits_clear(*, user: User) -> None:
    """Return a user to their plan's limits."""
    CustomLimits.objects.filter(user=user).delete()
    _after_commit(_limits_changed_hooks, user.pk)
