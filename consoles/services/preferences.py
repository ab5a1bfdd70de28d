"""Console preferences: the Python 3 version Save and Run uses."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from config.errors import AppError
from consoles import tmux
from consoles.models import Preferences
from servers.models import Server
from servers.selectors import first_active_server


@transaction.atomic
def preferences_set_python(*, user: User, version: str) -> Preferences:
    """Choose the Python 3 version Save and Run uses."""
    facts = tmux.agent_facts(first_active_server(kind=Server.Kind.CONSOLE))
    if version not in facts["pythons"]:
        raise AppError(f"Python {version or '(none)'} is not installed here.", field="version")
    preferences, _ = Preferences.objects.update_or_create(
        user=user, defaults={"default_python": version}
    )
    return preferences
