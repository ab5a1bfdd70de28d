"""Names for the Processes page: which console a process belongs to.

The agent tags every process of a console with ``tag_kind == "console"`` and the console's id
as ``tag_id``. ``servers.process_labels`` did not exist when this was written; the Processes
page (or that registry) calls ``console_labels`` for the console-tagged processes it lists.
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
