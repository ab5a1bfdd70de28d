"""Names for the Processes page: which console a process belongs to.

The agent tags every process of a console with ``tag_kind == "console"`` and the console's id
as ``tag_id``. ``console_labels`` is the ``servers.process_labels`` labeler for that kind,
registered in ConsolesConfig.ready(). The ids come from a user-controlled environment, so
only the user's own consoles are named.
"""

from __future__ import annotations

from consoles.models import Console


def console_labels(user, ids) -> dict[str, tuple[str, str]]:
    """{console id: (label, url)} for those of ``ids`` that are ``user``'s consoles."""
    wanted = {value for value in ids if isinstance(value, str)}
    consoles = Console.objects.filter(owner=user, pk__in=wanted).only("id", "title", "created_at")
    return {
        console.pk: (f"Console: {console.title}", console.get_absolute_url())
        for console in consoles
    }
