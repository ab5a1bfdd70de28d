from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.context_processors import warren as warren_context
from servers import processes as process_list
from servers.agents import AgentError, AgentUnavailable
from servers.processes import KILL_GRACE_SECONDS, ProcessNotFound


def _dashboard_tabs(request) -> list[dict]:
    # The Processes page has no tab of its own: it is reached from the Dashboard's CPU card.
    tabs = warren_context(request)["tabs"]
    return [{**tab, "active": tab["label"] == "Dashboard"} for tab in tabs]


@require_GET
def processes(request):
    listing = process_list.user_processes(user=request.user)
    context = {
        "rows": listing.rows,
        "unreachable": listing.unreachable,
        "tabs": _dashboard_tabs(request),
    }
    template = "servers/processes_table.html" if request.htmx else "servers/processes.html"
    return render(request, template, context)


@require_POST
def process_kill(request, server_id: int, pid: int):
    try:
        process_list.process_kill(user=request.user, server_id=server_id, pid=pid)
    except ProcessNotFound as exc:
        raise Http404("No such process") from exc
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
