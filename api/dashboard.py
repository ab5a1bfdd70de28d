"""The Account tab's API tokens card (see accounts.dashboard)."""

from accounts.dashboard import Card
from api.selectors import api_tokens_of


def tokens_card(request) -> Card:
    """Account tab: the user's API tokens (prefix, last use, revoke), a new one, $API_TOKEN."""
    tokens = list(api_tokens_of(request.user))
    context = {
        "tokens": tokens,
        "sandbox_on": any(token.in_sandboxes for token in tokens),
    }
    return Card("api/cards/tokens.html", context, wide=True)
