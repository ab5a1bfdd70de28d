import ipaddress

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from tests.fakes.vies import FakeVies

# Documentation ranges (RFC 5737), each placed in one country by the test GeoIP database.
NETWORKS = {
    "192.0.2.0/24": "DE",
    "198.51.100.0/25": "FR",
    "198.51.100.128/25": "GB",
    "203.0.113.0/24": "US",
}
IP_IN = {country: str(ipaddress.ip_network(net)[10]) for net, country in NETWORKS.items()}
UNKNOWN_IP = "100.64.0.10"  # in no network of the database


@pytest.fixture
def vies(settings):
    fake = FakeVies().start()
    settings.WARREN_VIES_URL = fake.url
    yield fake
    fake.stop()


def write_geoip_database(path, networks: dict[str, str]) -> None:
    """A small country database in MaxMind's format, as geoip2 reads GeoLite2-Country."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    for network, country in networks.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": country}})
    writer.to_db_file(str(path))


@pytest.fixture
def geoip(settings, tmp_path):
    path = tmp_path / "country.mmdb"
    write_geoip_database(path, NETWORKS)
    settings.WARREN_GEOIP_DATABASE = path
    return path


from tests.billing.gateway_fixtures import fake_paypal, fake_stripe  # noqa: E402, F401
