"""Custom console launchers: a name and a Bash command, optionally in a folder of the home."""

from __future__ import annotations

from django.db import transaction

from accounts.home_paths import home_path_parse
from accounts.models import User
from config.errors import AppError
from consoles.models import Launcher

LAUNCHER_NAME_MAX = 60
LAUNCHER_COMMAND_MAX = 4000


def _launcher_fields(owner: User, name: str, command: str, working_directory: str) -> dict:
    name, command = (name or "").strip(), (command or "").strip()
    if not name:
        raise AppError("Give the launcher a name.", field="name")
    if len(name) > LAUNCHER_NAME_MAX:
        raise AppError(f"Keep the name under {LAUNCHER_NAME_MAX} characters.", field="name")
    if not command:
        raise AppError("Give the launcher a command to run.", field="command")
    if len(command) > LAUNCHER_COMMAND_MAX or "\0" in command:
        raise AppError(
            f"Keep the command under {LAUNCHER_COMMAND_MAX} characters.", field="command"
        )
    folder = (working_directory or "").strip()
    return {
        "name": name,
        "command": command,
        "working_directory": (
            home_path_parse(owner, folder, field="working_directory") if folder else ""
        ),
    }


@transaction.atomic
def launcher_create(
    *, owner: User, name: str, command: str, working_directory: str = ""
) -> Launcher:
    """Add a custom console launcher: a name and a Bash command, optionally in a folder."""
    fields = _launcher_fields(owner, name, command, working_directory)
    return Launcher.objects.create(owner=owner, **fields)


@transaction.atomic
def launcher_update(
    *, launcher: Launcher, name: str, command: str, working_directory: str = ""
) -> Launcher:
    """Change a launcher; consoles already started from it keep what they run."""
    fields = _launcher_fields(launcher.owner, name, command, working_directory)
    for field, value in fields.items():
        setattr(launcher, field, value)
    launcher.save(update_fields=list(fields))
    return launcher


@transaction.atomic
def launcher_delete(*, launcher: Launcher) -> None:
    """Remove a launcher; its running consoles keep running."""
    launcher.delete()
