"""The country of an IP address, from a MaxMind-format database (WARREN_GEOIP_DATABASE).

None is shipped (MaxMind's licence forbids redistributing GeoLite2): without one every address
is of unknown country, which the evidence rule treats as disagreeing with an EU address.
"""

import functools
from pathlib import Path

import geoip2.database
import geoip2.errors
from django.conf import settings


@functools.cache
def _reader(path: Path) -> geoip2.database.Reader:
    return geoip2.database.Reader(str(path))


def country_of(ip_address: str) -> str:
    """The ISO country code the database gives ``ip_address``; "" when unknown."""
    path = settings.WARREN_GEOIP_DATABASE
    if path is None or not ip_address:
        return ""
    try:
        return _reader(Path(path)).country(ip_address).country.iso_code or ""
    except (geoip2.errors.AddressNotFoundError, ValueError, FileNotFoundError):
        return ""
