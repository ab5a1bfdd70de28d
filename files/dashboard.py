"""The Files tab's card on the Dashboard: disk usage beside the plan's limit."""

from accounts.dashboard import Card
from files.models import HomeMove
from files.selectors import storage_usage


def storage_card(request) -> Card:
    return Card("files/cards/storage.html", {"usage": storage_usage(user=request.user)})


def home_move_card(request) -> Card | None:
    """A notice above the other cards while the user's home is being moved."""
    moving = HomeMove.objects.filter(
        user=request.user,
        state__in=[HomeMove.State.PENDING, HomeMove.State.COPYING, HomeMove.State.SWITCHING],
    ).exists()
    return Card("files/cards/home_move.html", {}, wide=True) if moving else None
