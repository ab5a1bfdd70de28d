"""System checks: billing that cannot work as configured should say so at start-up."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def geoip_database_check(app_configs, **kwargs):
    path = settings.WARREN_GEOIP_DATABASE
    if path is None:
        return [
            Warning(
                "WARREN_GEOIP_DATABASE is not set: no GeoIP database is shipped, so customers "
                "with an EU billing address cannot subscribe to paid plans.",
                hint="Point it at a country .mmdb file (e.g. MaxMind's GeoLite2-Country).",
                id="billing.W001",
            )
        ]
    if not path.is_file():
        return [Warning(f"WARREN_GEOIP_DATABASE {path} does not exist.", id="billing.W002")]
    return []
