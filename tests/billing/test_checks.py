from pathlib import Path

from billing.checks import geoip_database_exists, geoip_database_set


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_no_geoip_database_is_a_deployment_warning(settings):
    settings.WARREN_GEOIP_DATABASE = None
    assert ids(geoip_database_set(None)) == ["billing.W001"]
    assert ids(geoip_database_exists(None)) == []


def test_a_configured_database_that_is_missing_is_always_a_warning(settings, tmp_path):
    settings.WARREN_GEOIP_DATABASE = tmp_path / "GeoLite2-Country.mmdb"
    assert ids(geoip_database_set(None)) == []
    assert ids(geoip_database_exists(None)) == ["billing.W002"]
    Path(settings.WARREN_GEOIP_DATABASE).write_bytes(b"")
    assert ids(geoip_database_exists(None)) == []
