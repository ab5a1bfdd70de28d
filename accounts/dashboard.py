"""Dashboard cards: each app contributes small panels to the Dashboard tab.

A card is a function ``(request) -> Card | None``; ``WARREN_DASHBOARD_CARDS`` lists them
in display order, so a new app adds a card without the dashboard knowing about it.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string

from accounts.limits import effective_limits


@dataclass
class Card:
    template: str
    context: dict = field(default_factory=dict)
    wide: bool = False


def plan_card(request) -> Card:
    return Card("accounts/cards/plan.html", {"limits": effective_limits(request.user)})


def cards_for(request) -> list[Card]:
    cards = []
    for path in getattr(settings, "WARREN_DASHBOARD_CARDS", ()):
        card = import_string(path)(request)
        if card is not None:
            cards.append(card)
    return cards
