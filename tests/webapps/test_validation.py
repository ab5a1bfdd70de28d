"""Rules on what users type into the Web tab (no web server needed)."""

import warnings

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Plan
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
