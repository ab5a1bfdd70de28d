"""Reads for the Web tab: the user's apps, the virtualenv check, log tails."""

from accounts.access import object_or_404
from accounts.selectors import cheapest_plan_allowing
from webapps import agent
from webapps.agent import AgentError, AgentUnavailable, virtualenv_python
from webapps.models import Certificate, WebApp


def webapps_of(user):
    return WebApp.objects.filter(user=user)


def webapp_of(user, pk: int) -> WebApp:
    """The app with its static mappings if ``user`` may act on its owner's things (the owner,
    or their teacher: accounts.access), else 404 (also for none at all)."""
    queryset = WebApp.objects.prefetch_related("static_mappings")
    return object_or_404(queryset, actor=user, owner="user", pk=pk)


def certificate_of(webapp: WebApp) -> Certificate | None:
    """The app's own HTTPS certificate row (an ACME one may be pending or failed)."""
    return Certificate.objects.filter(webapp=webapp).first()


def plan_for_more_webapps(count: int):
    """The cheapest public plan allowing count web apps, if any does."""
    return cheapest_plan_allowing(field="max_web_apps", count=count)


def virtualenv_warning(webapp: WebApp) -> str | None:
    """The release notes' warning: the virtualenv's Python differs from the app's."""
    if not webapp.virtualenv:
        return None
    version = virtualenv_python(webapp.user, webapp.virtualenv)
    if version is None or version == webapp.python_version:
        return None
    return (
        f"Your virtualenv {webapp.virtualenv} was made with Python {version}, but this web app "
        f"runs Python {webapp.python_version}: packages installed in it may not load. Change "
        f"the app's Python version or make a new virtualenv with Python {webapp.python_version}."
    )


def log_tail(webapp: WebApp, kind: str, max_bytes: int = 64 * 1024, rotation: int = 0) -> dict:
    """{"text", "size", "previous", "error"} for one of the app's logs (or previous file
    ``rotation``, 1 the newest); previous lists the rotated files there are."""
    try:
        answer = agent.log_read(webapp, kind=kind, max_bytes=max_bytes, rotation=rotation)
    except AgentUnavailable:
        error = "The web server is unreachable right now."
        return {"text": "", "size": 0, "previous": [], "error": error}
    except AgentError as exc:
        return {"text": "", "size": 0, "previous": [], "error": exc.message}
    return {"previous": [], **answer, "error": None}


def log_file(webapp: WebApp, kind: str, rotation: int = 0) -> tuple[int, int]:
    """(fd, size) of the whole log, opened as the user; raises AgentError if there is none."""
    return agent.log_open(webapp, kind=kind, rotation=rotation)
