"""What each process on the Processes page belongs to: a registry of labelers per tag kind.

The execution agent reports each process's ``(tag_kind, tag_id)`` as read from its initial
environment, which the user controls (anyone can ``env WARREN_TAG_KIND=console ... cmd``).
So a tag is only ever a key to look up among the user's own objects: labelers must filter
by owner, and an id nobody of theirs answers to gets a plain, linkless fallback at most.

Apps register a labeler for their kind in ``AppConfig.ready()``::

    process_labels.register("console", console_labels)

A labeler is ``(user, ids) -> {id: (label, url)}``; it is called once per kind per page.
Registered today: "console" (consoles/apps.py, consoles.process_labels.console_labels) and
"task" and "always_on" (schedules/apps.py, schedules.process_labels).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Labeler = Callable[[object, list[str]], dict[str, tuple[str, str]]]
Tag = tuple[str | None, str | None]

# kind -> labeler. Tests that change it use monkeypatch.setitem so it is put back.
registry: dict[str, Labeler] = {}

# Linkless names for tags whose object is gone (or was never the user's), and for plumbing.
FALLBACKS: dict[str, str] = {
    "console": "Console (ended)",
    "task": "Scheduled task",
    "always_on": "Always-on task",
}
KNOWN_TAGS: dict[Tag, str] = {
    ("other", "tmux-server"): "tmux server (holds your consoles)",
    ("other", "tmux-runner"): "tmux commands for Warren (starts and lists your consoles)",
    ("other", "ssh"): "SSH session",  # execution_agent/ops/ssh.py tags every session
}


@dataclass(frozen=True)
class Label:
    text: str
    url: str = ""


def register(kind: str, labeler: Labeler) -> None:
    """Name the processes tagged ``kind`` with ``labeler`` (replacing any earlier one)."""
    registry[kind] = labeler


def unregister(kind: str) -> None:
    registry.pop(kind, None)


def labels_for(user, tags: Iterable[Tag]) -> dict[Tag, Label]:
    """{(kind, id): Label} for those of ``tags`` that can be named for ``user``.

    Each registered labeler is called once with every id of its kind (no query per process).
    """
    ids_by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, tag_id in tags:
        if isinstance(kind, str) and isinstance(tag_id, str):
            ids_by_kind[kind].add(tag_id)
    labels: dict[Tag, Label] = {}
    for kind, ids in ids_by_kind.items():
        named = registry[kind](user, sorted(ids)) if kind in registry else {}
        for tag_id in ids:
            label = _label(kind, tag_id, named.get(tag_id))
            if label is not None:
                labels[(kind, tag_id)] = label
    return labels


def _label(kind: str, tag_id: str, named: tuple[str, str] | None) -> Label | None:
    if named is not None:
        text, url = named
        return Label(text=text, url=url)
    text = KNOWN_TAGS.get((kind, tag_id)) or FALLBACKS.get(kind)
    return Label(text=text) if text else None
