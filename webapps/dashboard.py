"""The Web apps card on the Dashboard tab."""

from accounts.dashboard import Card
from webapps.selectors import webapps_of


def webapps_card(request) -> Card:
    return Card("webapps/cards/webapps.html", {"apps": list(webapps_of(request.user))})
