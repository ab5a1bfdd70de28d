"""Reads about consoles: who may see which, what a user has running, their preferences."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.access import may_act_on
from config.errors import AppError
from consoles import tmux
from consoles.models import Console, Launcher, Preferences, Share
from education.selectors import class_share_reaches
from servers.models import Server
from servers.selectors import first_active_server


@dataclass(frozen=True)
class Access:
    """How a user may use a console: everyone but its owner and sharees gets None."""

    console: Console
    is_owner: bool
    read_only: bool
    as_teacher: bool = False  # through accounts.access, not a share: recorded for the owner


def console_group(console_id: str) -> str:
    """The channel-layer group of every socket attached to a console."""
    return f"console.{console_id}"


def console_access(user, console_id: str) -> Access | None:
    """The user's access to a console: owner, read-write share or the owner's teacher,
    read-only share, or None."""
    if not user.is_authenticated or not isinstance(console_id, str) or len(console_id) > 64:
        return None
    console = Console.objects.select_related("owner", "server").filter(pk=console_id).first()
    if console is None:
        return None
    if console.owner_id == user.pk:
        return Access(console=console, is_owner=True, read_only=False)
    share = Share.objects.filter(console=console, user=user).only("read_only").first()
    if share is not None and not share.read_only:
        return Access(console=console, is_owner=False, read_only=False)
    # The owner's teacher attaches read-write, live (accounts.access; never the owner's
    # buttons: kill, restart and sharing stay the owner's).
    if may_act_on(user, console.owner):
        return Access(console=console, is_owner=False, read_only=False, as_teacher=True)
    if share is None:
        # "Share with all my students" (education): read-only, for the owner's class now.
        if class_share_reaches(console=console, user=user):
            return Access(console=console, is_owner=False, read_only=True)
        return None
    return Access(console=console, is_owner=False, read_only=share.read_only)


def consoles_of(owner) -> QuerySet[Console]:
    return Console.objects.filter(owner=owner).select_related("launcher")


def running_console_count(owner) -> int:
    return Console.objects.filter(owner=owner, state=Console.State.RUNNING).count()


def consoles_shared_with(user) -> QuerySet[Share]:
    return (
        Share.objects.filter(user=user)
        .select_related("console", "console__owner")
        .order_by("-console__created_at")
    )


def shares_of(console: Console) -> QuerySet[Share]:
    return Share.objects.filter(console=console).select_related("user")


def launchers_of(owner) -> QuerySet[Launcher]:
    return Launcher.objects.filter(owner=owner)


def installed_pythons() -> list[str]:
    """Python 3 versions on the console server, oldest first ([] if it cannot be asked)."""
    try:
        facts = tmux.agent_facts(first_active_server(kind=Server.Kind.CONSOLE))
    except (tmux.AgentError, tmux.AgentUnavailable):
        return []
    return [version for version in facts["pythons"] if version.startswith("3.")]


def ipython_installed() -> bool:
    try:
        return tmux.agent_facts(first_active_server(kind=Server.Kind.CONSOLE))["ipython"]
    except (tmux.AgentError, tmux.AgentUnavailable):
        return False


def default_python_for(user) -> str:
    """The user's chosen Python 3 if still installed, else the newest installed ("" if none)."""
    pythons = installed_pythons()
    chosen = Preferences.objects.filter(user=user).values_list("default_python", flat=True).first()
    if chosen and chosen in pythons:
        return chosen
    return pythons[-1] if pythons else ""


def console_latest_output(console: Console, *, lines: int = 100) -> str:
    """The console's screen and ``lines`` of scrollback as text (the API's get_latest_output)."""
    try:
        return tmux.capture(console, lines=lines)
    except tmux.AgentUnavailable:
        raise AppError("The console server is not answering. Try again.", status=503) from None
    except tmux.AgentError as exc:
        if exc.code == "not_found":
            raise AppError("This console has no output: it is not running.", status=409) from None
        raise AppError(f"Could not read the console: {exc.message}", status=503) from None
