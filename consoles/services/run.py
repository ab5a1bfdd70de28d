"""Save and Run: run a file of the home with the owner's default Python 3, in a console."""

from __future__ import annotations

import posixpath

from django.db import transaction
from django.http import Http404

from accounts.home_paths import home_path_parse, home_path_relative
from accounts.models import User
from config.errors import AppError
from consoles import tmux
from consoles.models import Console
from consoles.selectors import default_python_for
from consoles.services.consoles import agent_failure, console_end, create_console
from files.agent import UNAVAILABLE, UserFiles
from files.paths import Location


@transaction.atomic
def console_run_file(*, owner: User, path: str) -> Console:
    """Run a file of the home with the owner's default Python 3, in a console in its folder.

    A console left by an earlier run of the same file is replaced, so repeated runs do not
    pile up against the console limit.
    """
    script = home_path_parse(owner, path, what="file", field="path")
    if script == owner.home_path:
        raise AppError("Choose a file to run.")
    _require_file(owner, script)
    version = default_python_for(owner)
    if not version:
        raise AppError("No Python 3 is installed on the console server.")
    previous = (
        Console.objects.select_for_update()
        .filter(owner=owner, kind=Console.Kind.RUN, script_path=script)
        .first()
    )
    folder, name = posixpath.split(script)
    console = create_console(
        owner=owner,
        kind=Console.Kind.RUN,
        title=f"{name} (Python {version})",
        # -i: the console stays at the interpreter's prompt after the script, with its names.
        argv=[f"python{version}", "-i", name],
        cwd=folder,
        script_path=script,
        replacing=previous,
    )
    if previous is not None:
        console_end(previous, action="stop the earlier run")
    return console


def _require_file(owner: User, script: str) -> None:
    # Through the Files tab's adapter (the console server's agent, as the owner); its
    # refusals are worded for the Files tab, so Save and Run words its own.
    parts = tuple(part for part in home_path_relative(owner, script).split("/") if part)
    try:
        stat = UserFiles(owner).stat(Location(owner.username, "home", parts))
    except Http404 as exc:
        raise AppError(f"There is no file {script}.") from exc
    except AppError as exc:
        if exc is UNAVAILABLE:
            unavailable = tmux.AgentUnavailable(exc.message)
            raise agent_failure("run the file", unavailable) from exc
        raise AppError(f"There is no file {script}.") from exc
    if stat.get("type") != "file":
        raise AppError(f"{script} is not a file.")
