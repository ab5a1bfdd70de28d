"""Consoles' panels on the Dashboard and Account tabs (see accounts.dashboard)."""

from accounts.dashboard import Card
from consoles import selectors


def python_preference_card(request) -> Card | None:
    """Account tab: the Python 3 that Save and Run uses."""
    pythons = selectors.installed_pythons()
    if not pythons:
        return None
    context = {"pythons": pythons, "current": selectors.default_python_for(request.user)}
    return Card("consoles/cards/python.html", context)


def consoles_card(request) -> Card:
    """Dashboard: the user's consoles as last seen (no agent call: the dashboard stays fast)."""
    consoles = list(selectors.consoles_of(request.user)[:5])
    running = selectors.running_console_count(request.user)
    return Card("consoles/cards/consoles.html", {"consoles": consoles, "running": running})
