"""Rules on what users type into the Web tab (no web server needed)."""

import warnings

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Plan
from webapps.checks import webapps_domain_apart_from_dashboard
from webapps.validation import (
    clean_domain,
    clean_home_path,
    clean_url_prefix,
    default_domain,
    hash_password,
)

pytestmark = pytest.mark.django_db


def test_default_domain_is_the_username_under_the_webapps_domain(user):
    assert default_domain(user) == "alice.localhost"
    assert clean_domain(user, "Alice.localhost.") == "alice.localhost"


@pytest.mark.parametrize(
    "domain", ["localhost", "-bad.example.org", "a..b", "under_score.org", "x" * 64 + ".org"]
)
def test_invalid_dns_names_are_refused(user, domain):
    user.plan = Plan.objects.get(slug="hacker")
    with pytest.raises(ValidationError):
        clean_domain(user, domain)


def test_custom_domains_need_a_plan_that_has_them(user):
    with pytest.raises(ValidationError, match="does not include custom domains"):
        clean_domain(user, "www.example.org")
    user.plan = Plan.objects.get(slug="hacker")
    assert clean_domain(user, "www.example.org") == "www.example.org"


def test_other_users_addresses_are_never_available(user):
    user.plan = Plan.objects.get(slug="web-developer")
    for domain in ("bob.localhost", "www.alice.localhost"):
        with pytest.raises(ValidationError, match="belong to their users"):
            clean_domain(user, domain)


@pytest.mark.parametrize(
    "domain",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "0177.0.0.1",
        "127.0.0.1.",
        "10.0.0.0x1",
        "www.example.123",
        "::1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "fe80::1%eth0",
    ],
)
def test_ip_addresses_in_any_spelling_are_refused(user, domain):
    user.plan = Plan.objects.get(slug="hacker")
    with pytest.raises(ValidationError, match="is an IP address"):
        clean_domain(user, domain)


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("localhost", "not a full domain name"),
        ("intranet", "not a full domain name"),
        ("www.localhost.", "belong to their users"),
        ("x" * 64 + ".example.org", "at most 63 characters"),
        (("a" * 60 + ".") * 5 + "org", "at most 253 characters"),
        ("http://www.example.org", "Enter a domain name"),
    ],
)
def test_names_that_are_not_full_dns_names_are_refused_with_a_reason(user, domain, message):
    user.plan = Plan.objects.get(slug="hacker")
    with pytest.raises(ValidationError, match=message):
        clean_domain(user, domain)


@pytest.mark.parametrize(
    "domain", ["warren.example.com", "www.warren.example.com", "example.com", "cookies.example.net"]
)
def test_warrens_own_host_names_their_parents_and_cookie_domain_are_refused(user, settings, domain):
    user.plan = Plan.objects.get(slug="hacker")
    settings.ALLOWED_HOSTS = ["warren.example.com", "127.0.0.1"]
    settings.SESSION_COOKIE_DOMAIN = ".cookies.example.net"
    with pytest.raises(ValidationError, match="own address or shares its domain"):
        clean_domain(user, domain)
    assert clean_domain(user, "blog.example.org") == "blog.example.org"


def test_names_under_localhost_are_refused_when_users_sites_live_elsewhere(user, settings):
    user.plan = Plan.objects.get(slug="hacker")
    settings.WARREN_WEBAPPS_DOMAIN = "warren-apps.net"
    for domain in ("alice.localhost", "www.localhost"):
        with pytest.raises(ValidationError, match="visitor's own computer"):
            clean_domain(user, domain)
    assert clean_domain(user, "alice.warren-apps.net") == "alice.warren-apps.net"
    for domain in ("bob.warren-apps.net", "warren-apps.net", "x.alice.warren-apps.net"):
        with pytest.raises(ValidationError, match="belong to their users"):
            clean_domain(user, domain)


@pytest.mark.parametrize(
    ("platform", "hosts", "cookie_domain", "warns"),
    [
        ("localhost", ["localhost"], None, True),
        ("example.com", ["warren.example.com"], None, True),
        ("apps.warren.example.com", ["warren.example.com"], None, True),
        ("apps.example.com", ["warren.example.com"], None, True),
        ("apps.example.net", ["warren.example.com"], ".example.net", True),
        ("warren-apps.net", ["warren.example.com", "127.0.0.1", "[::1]", "*"], None, False),
        ("apps.example.net", ["warren.example.com"], None, False),
    ],
)
def test_system_check_warns_when_users_sites_share_cookies_with_the_dashboard(
    settings, platform, hosts, cookie_domain, warns
):
    settings.WARREN_WEBAPPS_DOMAIN = platform
    settings.ALLOWED_HOSTS = hosts
    settings.SESSION_COOKIE_DOMAIN = cookie_domain
    found = [w.id for w in webapps_domain_apart_from_dashboard(None)]
    assert found == (["webapps.W001"] if warns else [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("mysite", "/home/alice/mysite"), ("/home/alice/./a//b/", "/home/alice/a/b")],
)
def test_home_paths_are_normalised(user, raw, expected):
    assert clean_home_path(user, raw, what="directory") == expected


@pytest.mark.parametrize("raw", ["/home/alicex", "/home/alice/../bob", "/tmp", "/home/alice/a;b"])
def test_paths_outside_the_home_or_with_odd_characters_are_refused(user, raw):
    with pytest.raises(ValidationError):
        clean_home_path(user, raw, what="directory")


@pytest.mark.parametrize(("raw", "expected"), [("static", "/static/"), ("/a/b", "/a/b/")])
def test_url_prefixes_are_normalised(raw, expected):
    assert clean_url_prefix(raw) == expected


def test_password_hash_is_sha512_crypt_that_checks_out():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    hashed = hash_password("open sesame")
    assert hashed.startswith("$6$")
    assert crypt.crypt("open sesame", hashed) == hashed
    with pytest.raises(ValidationError):
        hash_password("")
