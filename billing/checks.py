"""System checks: billing that cannot work as configured should say so at start-up."""

from django.conf import settings
from django.core.checks import Warning, register


# A deployment check (`manage.py check --deploy`): the embedded default ships no database on
# purpose, and a warning at every start of ./bin/run would teach operators to skip warnings.
# The admin's billing page says it too.
@register(deploy=True)
def geoip_database_set(app_configs, **kwargs):
    """Without a GeoIP database, EU customers cannot subscribe (two pieces of evidence)."""
    if settings.WARREN_GEOIP_DATABASE is not None:
        return []
    return [
        Warning(
            "WARREN_GEOIP_DATABASE is not set: no GeoIP database is shipped, so customers "
            "with an EU billing address cannot subscribe to paid plans.",
            hint="Point it at a country .mmdb file (e.g. MaxMind's GeoLite2-Country).",
            id="billing.W001",
        )
    ]


@register()
def geoip_database_exists(app_configs, **kwargs):
    """A configured database that is not there is a mistake, shown at every start."""
    path = settings.WARREN_GEOIP_DATABASE
    if path is None or path.is_file():
        return []
    return [Warning(f"WARREN_GEOIP_DATABASE {path} does not exist.", id="billing.W002")]
