"""The TXT look-up behind custom domains' ownership check, against a DNS server on a socket."""

import pytest

from tests.fakes.dns import use_fake_dns
from webapps import dns


@pytest.fixture
def fake_dns(settings):
    return use_fake_dns(settings)


def test_txt_records_are_read_with_each_records_strings_joined(fake_dns):
    fake_dns.records["_warren-challenge.example.org"] = ["first", "x" * 300]
    assert dns.txt_records("_warren-challenge.example.org") == ["first", "x" * 300]
    assert fake_dns.queries == ["_warren-challenge.example.org"]


def test_an_answer_too_long_for_udp_is_fetched_again_over_tcp(fake_dns):
    fake_dns.records["big.example.org"] = ["y" * 2000]
    assert dns.txt_records("big.example.org") == ["y" * 2000]
    assert fake_dns.queries == ["big.example.org", "big.example.org"]


def test_a_name_with_no_txt_record_answers_empty(fake_dns):
    fake_dns.records["bare.example.org"] = []
    assert dns.txt_records("bare.example.org") == []


def test_a_missing_name_is_nxdomain(fake_dns):
    with pytest.raises(dns.NoSuchName, match="does not exist"):
        dns.txt_records("nowhere.example.org")


def test_a_server_that_never_answers_times_out(fake_dns, settings):
    fake_dns.silent.add("slow.example.org")
    with pytest.raises(dns.DnsTimeout, match="in time"):
        dns.txt_records("slow.example.org")


def test_an_unreachable_server_is_an_error_not_a_crash(settings, unused_udp_port):
    settings.WARREN_DNS_SERVERS = [f"127.0.0.1:{unused_udp_port}"]
    settings.WARREN_DNS_TIMEOUT_SECONDS = 1
    with pytest.raises(dns.DnsError):
        dns.txt_records("example.org")


def test_servers_come_from_resolv_conf_unless_configured(settings):
    settings.WARREN_DNS_SERVERS = ["192.0.2.1", "[2001:db8::1]:5353", "192.0.2.2:53"]
    assert dns.configured_servers() == [
        ("192.0.2.1", 53),
        ("2001:db8::1", 5353),
        ("192.0.2.2", 53),
    ]
    settings.WARREN_DNS_SERVERS = []
    assert dns.configured_servers()
