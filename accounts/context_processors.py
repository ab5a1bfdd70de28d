from django.conf import settings
from django.urls import reverse

# (label, url name, namespace or view name that marks the tab active)
TABS = (
    ("Dashboard", "dashboard", "dashboard"),
    ("Consoles", "consoles:index", "consoles"),
    ("Files", "files:index", "files"),
    ("Web", "webapps:index", "webapps"),
    ("Tasks", "schedules:index", "schedules"),
    ("Databases", "databases:index", "databases"),
    ("Forums", "forums:index", "forums"),
    ("Account", "account", "account"),
)

# Pages without a tab of their own, under the tab that leads to them: the Processes page
# (servers:) lists what runs in consoles, so it is the Consoles tab's, as in the seed (the
# Dashboard's CPU card links to it too).
TAB_OF_NAMESPACE = {"servers": "consoles"}


def _active_key(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    if match.namespace:
        namespace = match.namespace.split(":")[0]
        return TAB_OF_NAMESPACE.get(namespace, namespace)
    if match.url_name in ("account",) or (match.url_name or "").startswith(("account_", "mfa_")):
        return "account"
    return match.url_name or ""


def _tabs_of(request) -> tuple:
    # The Education tab is a teacher's: shown to those with students (or staff's approval).
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return TABS
    from education.selectors import shows_education_tab

    if not shows_education_tab(user):
        return TABS
    return (*TABS[:-1], ("Education", "education:index", "education"), TABS[-1])


def warren(request):
    active = _active_key(request)
    return {
        "site_name": settings.WARREN_SITE_NAME,
        "tabs": [
            {"label": label, "url": reverse(url_name), "active": key == active}
            for label, url_name, key in _tabs_of(request)
        ],
    }
