from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from config.errors import AppError
from servers import processes as process_list
from servers.agents import AgentError, AgentUnavailable
from servers.processes import KILL_GRACE_SECONDS


@require_GET
def processes(request):
    listing = process_list.user_processes(user=request.user)
    context = {
        "rows": listing.rows,
        "unreachable": listing.unreachable,
        "elsewhere": listing.elsewhere,
    }
    template = "servers/processes_table.html" if request.htmx else "servers/processes.html"
    return render(request, template, context)


@require_POST
def process_kill(request, server_id: int, pid: int):
    try:
        process_list.process_kill(user=request.user, server_id=server_id, pid=pid)
    except AppError as exc:  # only ever "No such process" (404)
        raise Http404(exc.message) from exc
    except AgentUnavailable:
        messages.error(request, f"Could not reach the server to signal {pid}; try again shortly.")
        return redirect("servers:processes")
    except AgentError as exc:
        messages.error(request, f"Could not signal {pid}: {exc.message}")
        return redirect("servers:processes")
    messages.success(
        request,
        f"Sent SIGTERM to {pid}; SIGKILL follows in {KILL_GRACE_SECONDS} s if it is still running.",
    )
    return redirect("servers:processes")
