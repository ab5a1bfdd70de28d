"""The Files tab's card on the Dashboard: disk usage beside the plan's limit."""

from accounts.dashboard import Card
from files.selectors import storage_usage


def storage_card(request) -> Card:
    return Card("files/cards/storage.html", {"usage": storage_usage(user=request.user)})
