"""The Files tab's cards on the Dashboard: disk usage beside the plan's limit, and a banner
over 90% of it."""

from accounts.dashboard import Card
from files.selectors import StorageUsage, storage_usage


def storage_card(request) -> Card:
    return Card("files/cards/storage.html", {"usage": _usage(request)})


def storage_banner_card(request) -> Card | None:
    """A wide banner while the user is near or over their storage quota (listed early)."""
    usage = _usage(request)
    if usage is None or not usage.banner:
        return None
    return Card("files/cards/storage_banner.html", {"usage": usage}, wide=True)


def _usage(request) -> StorageUsage | None:
    # Both cards show the same figure: ask the file server once per page.
    if not hasattr(request, "_warren_storage_usage"):
        request._warren_storage_usage = storage_usage(user=request.user)
    return request._warren_storage_usage
