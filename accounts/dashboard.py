"""Cards: each app contributes small panels to the Dashboard and Account tabs.

A card is a function ``(request) -> Card | None``; ``WARREN_DASHBOARD_CARDS`` and
``WARREN_ACCOUNT_CARDS`` list them in display order, so a new app adds a card without the
dashboard or the account page knowing about it. Each app keeps its cards in
``<app>/dashboard.py``.
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


def cards_for(request, setting: str = "WARREN_DASHBOARD_CARDS") -> list[Card]:
    """The cards listed in ``setting`` that have something to show ``request.user``."""
    cards = []
    for path in getattr(settings, setting, ()):
        card = import_string(path)(request)
        if card is not None:
            cards.append(card)
    return cards
