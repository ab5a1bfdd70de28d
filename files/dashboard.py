"""The Files tab's cards on the Dashboard: disk usage beside the plan's limit, and a banner
over 90% of it."""

from accounts.dashboard import Card
from files.models import HomeMove
from files.selectors import StorageUsage, storage_usage


def storage_card(request) -> Card:
    return Card("files/cards/storage.html", {"usage": _usage(request)})


def storage_banner_card(request) -> Card | None:
    """A wide banner while the user is near or over their storage quota (listed early)."""
    usage = _usage(request)
    if usage is None or not usage.banner:
        return None
    return Card("files/cards/storage_banner.html", {"usage": usage}, wide=True)


def home_move_card(request) -> Card | None:
    """A notice above the other cards while the user's home is being moved."""
    moving = HomeMove.objects.filter(
        user=request.user,
        state__in=[HomeMove.State.PENDING, HomeMove.State.COPYING, HomeMove.State.SWITCHING],
    ).exists()
    return Card("files/cards/home_move.html", {}, wide=True) if moving else None


def _usage(request) -> StorageUsage | None:
    # Both cards show the same figure: ask the file server once per page.
    if not hasattr(request, "_warren_storage_usage"):
        request._warren_storage_usage = storage_usage(user=request.user)
    return request._warren_storage_usage
