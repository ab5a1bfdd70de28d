"""System checks on the Web tab's settings: users' sites must not share cookies with Warren."""

from django.conf import settings
from django.core import checks


# A deployment check (`manage.py check --deploy`): the embedded default serves both on
# localhost for a try-out on one machine, where a warning at every start would teach operators
# to ignore warnings.
@checks.register(checks.Tags.security, deploy=True)
def webapps_domain_apart_from_dashboard(app_configs, **kwargs):
    """WARREN_WEBAPPS_DOMAIN is neither the dashboard's domain, a parent of it, under it, nor
    a sibling sharing a parent with it: any of those lets a user's site set cookies the
    dashboard reads (session fixation, login CSRF)."""
    platform = settings.WARREN_WEBAPPS_DOMAIN.lower().strip(".")
    warnings = []
    for host in sorted(_dashboard_hosts()):
        shared = _shared_parent(platform, host)
        if shared:
            warnings.append(
                checks.Warning(
                    f"WARREN_WEBAPPS_DOMAIN ({platform}) and the dashboard's host {host} "
                    f"share {shared}: users' sites can set cookies the dashboard reads.",
                    hint="Serve users' sites under a registrable domain of their own (for "
                    "example warren-apps.net for a dashboard at warren.example.com), or ignore "
                    "this if the shared part is a public suffix.",
                    id="webapps.W001",
                )
            )
    return warnings


def _dashboard_hosts() -> set[str]:
    hosts = {host.lstrip(".") for host in settings.ALLOWED_HOSTS if host != "*"}
    for name in ("SESSION_COOKIE_DOMAIN", "CSRF_COOKIE_DOMAIN"):
        hosts.add(getattr(settings, name, None) or "")
    names = {host.lower().strip(".") for host in hosts}
    # Cookies of an IP address are never shared with a name, whatever the name.
    return {
        name for name in names if name and not name.replace(".", "").isdigit() and ":" not in name
    }


def _shared_parent(platform: str, host: str) -> str:
    """The name both are under (themselves included), if it is more than a top-level label;
    "localhost" counts, being the whole of its own top-level domain."""
    common = []
    for a, b in zip(reversed(platform.split(".")), reversed(host.split(".")), strict=False):
        if a != b:
            break
        common.insert(0, a)
    if not common:
        return ""
    if len(common) == 1 and common[0] != "localhost" and platform != host:
        return ""  # only a top-level domain in common (.com): cookies cannot be set there
    return ".".join(common)
