from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.access import access_record, owner_or_404
from config.errors import AppError
from servers import processes as process_list
from servers.agents import AgentError, AgentUnavailable
from servers.processes import KILL_GRACE_SECONDS


def _owner(request, username: str | None):
    """Whose processes: the visitor's, or (by username) a student's for their teacher."""
    if username is None:
        return request.user
    return owner_or_404(request.user, username)


def _back(owner, request):
    if owner == request.user:
        return redirect("servers:processes")
    return redirect("servers:processes_of", username=owner.username)


@require_GET
def processes(request, username: str | None = None):
    owner = _owner(request, username)
    listing = process_list.user_processes(user=owner)
    if not request.htmx:
        access_record(actor=request.user, owner=owner, action="looked at the processes")
    context = {
        "rows": listing.rows,
        "unreachable": listing.unreachable,
        "elsewhere": listing.elsewhere,
        "owner": owner,
    }
    template = "servers/processes_table.html" if request.htmx else "servers/processes.html"
    return render(request, template, context)


@require_POST
def process_kill(request, server_id: int, pid: int, username: str | None = None):
    owner = _owner(request, username)
    try:
        process_list.process_kill(user=owner, server_id=server_id, pid=pid)
    except AppError as exc:  # only ever "No such process" (404)
        raise Http404(exc.message) from exc
    except AgentUnavailable:
        messages.error(request, f"Could not reach the server to signal {pid}; try again shortly.")
        return _back(owner, request)
    except AgentError as exc:
        messages.error(request, f"Could not signal {pid}: {exc.message}")
        return _back(owner, request)
    access_record(actor=request.user, owner=owner, action="killed the process", target=str(pid))
    messages.success(
        request,
        f"Sent SIGTERM to {pid}; SIGKILL follows in {KILL_GRACE_SECONDS} s if it is still running.",
    )
    return _back(owner, request)
