"""Attacks through a web app's domain: taking names that share cookies with Warren or others."""

# The web front's fixtures live in tests/webapps/conftest.py; imported here, they are
# parameters of the tests below, which ruff reads as redefinitions.
# ruff: noqa: F811

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Plan
from execution_agent.testing.web import http_get
from servers.agents import execution_agent, user_ref
from tests.fakes.dns import use_fake_dns
from tests.webapps.conftest import alice_home, web, web_port  # noqa: F401
from tests.webapps.helpers import create_app
from webapps import services
from webapps.models import WebApp

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def hacker(alice_home):
    """Alice on a plan with custom domains: the attacker needs nothing more than that."""
    alice_home.plan = Plan.objects.get(slug="hacker")
    alice_home.save(update_fields=["plan"])
    return alice_home


@pytest.mark.parametrize(
    "domain", ["127.0.0.1", "2130706433", "0x7f.1", "127.1", "[::1]", "localhost"]
)
def test_web_app_cannot_take_the_dashboards_address_to_share_its_cookies(
    web,
    hacker,
    alice_client,
    domain,
    web_port,
):
    """With 127.0.0.1 as her app's domain, Alice's app at 127.0.0.1:8080 would receive and set
    the cookies of the dashboard at 127.0.0.1:8000 (cookies ignore ports): session fixation
    and login CSRF against every user who visits her site."""
    response = alice_client.post(
        reverse("webapps:new"),
        {"framework": "flask", "python_version": "3.11", "domain": domain},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "is an IP address" in page or "not a full domain name" in page
    assert not WebApp.objects.exists()
    assert b"Hello from Flask" not in http_get(web_port, domain.strip("[]"))[2]


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("127.0.0.1", "is an IP address"),
        ("dashboard.warren.test", "own address or shares its domain"),
        ("warren.test", "own address or shares its domain"),
        ("bob.localhost", "belong to their users"),
    ],
)
def test_web_app_cannot_move_onto_warrens_own_names(
    web,
    hacker,
    alice_client,
    settings,
    domain,
    message,
):
    """Moving an existing app onto the dashboard's host name (or its parent) would let the
    app set cookies the dashboard trusts; onto bob.localhost, serve pages as Bob."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "dashboard.warren.test"]
    webapp = WebApp.objects.create(
        user=hacker, domain="alice.localhost", framework="manual", python_version="3.11",
        working_dir="/home/alice",
    )  # fmt: skip
    url = reverse("webapps:setting", args=[webapp.pk, "domain"])
    response = alice_client.post(url, {"value": domain}, HTTP_HX_REQUEST="true")
    assert message in response.content.decode()
    webapp.refresh_from_db()
    assert webapp.domain == "alice.localhost"


@pytest.fixture
def fake_dns(settings):
    return use_fake_dns(settings)


def test_custom_domain_is_not_served_until_its_txt_record_proves_ownership(
    web, hacker, alice_client, fake_dns, web_port
):
    """Without the DNS check, Alice could name her app www.victim-bank.example: where that
    name resolves to the web server (shared hosting, a dangling CNAME, a local hosts entry),
    her pages would be served as the victim's site, under its cookies."""
    app = create_app(alice_client, domain="www.victim-bank.example")
    assert not app.domain_verified
    assert b"Hello from Flask" not in http_get(web_port, "www.victim-bank.example")[2]
    alice_client.post(reverse("webapps:reload", args=[app.pk]))
    alice_client.post(reverse("webapps:enabled", args=[app.pk]), {"enabled": "on"})
    assert b"Hello from Flask" not in http_get(web_port, "www.victim-bank.example")[2]

    fake_dns.records["_warren-challenge.www.victim-bank.example"] = ["a token of someone else"]
    alice_client.post(reverse("webapps:verify_domain", args=[app.pk]))
    assert b"Hello from Flask" not in http_get(web_port, "www.victim-bank.example")[2]

    # The owner of the name adds the record: now, and only now, it is served.
    fake_dns.records["_warren-challenge.www.victim-bank.example"] = ["v=1", app.domain_token]
    page = alice_client.post(reverse("webapps:verify_domain", args=[app.pk]), follow=True)
    assert "the TXT record checks out" in page.content.decode()
    assert http_get(web_port, "www.victim-bank.example")[2] == b"Hello from Flask!"


def test_moving_a_verified_app_to_another_domain_needs_a_new_proof(
    web, hacker, alice_client, fake_dns, web_port
):
    """A proof for one name must not carry over: having verified her own blog.alice.example,
    Alice renames the app to www.victim.example and would be served there unchecked."""
    app = create_app(alice_client, domain="blog.alice.example")
    fake_dns.records["_warren-challenge.blog.alice.example"] = [app.domain_token]
    alice_client.post(reverse("webapps:verify_domain", args=[app.pk]))
    assert http_get(web_port, "blog.alice.example")[2] == b"Hello from Flask!"
    url = reverse("webapps:setting", args=[app.pk, "domain"])
    alice_client.post(url, {"value": "www.victim.example"})
    app.refresh_from_db()
    assert app.domain == "www.victim.example" and not app.domain_verified
    assert b"Hello from Flask" not in http_get(web_port, "www.victim.example")[2]
    assert b"Hello from Flask" not in http_get(web_port, "blog.alice.example")[2]


@pytest.mark.parametrize("domain", ["127.0.0.1", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_services_refuse_ip_domains_whatever_the_caller_checked(web, hacker, domain):
    """The services are the last gate (the admin, the editor's actions and future API calls
    reach them without the forms): an IP there would share the dashboard's cookies."""
    with pytest.raises(ValidationError, match="is an IP address"):
        services.webapp_create(user=hacker, framework="flask", python_version="3.11", domain=domain)
    assert not WebApp.objects.exists()
    # Refused before anything was written: no project was made in the home either.
    listing = execution_agent().fs_list(user=user_ref(hacker), path="")
    assert "mysite" not in {entry["name"] for entry in listing}

    webapp = WebApp.objects.create(
        user=hacker, domain="alice.localhost", framework="manual", python_version="3.11",
        working_dir="/home/alice",
    )  # fmt: skip
    with pytest.raises(ValidationError, match="is an IP address"):
        services.webapp_set_domain(webapp=webapp, domain=domain)
    webapp.refresh_from_db()
    assert webapp.domain == "alice.localhost"


def test_a_proof_found_once_does_not_follow_the_app_back_to_that_name(
    web, hacker, alice_client, fake_dns, web_port
):
    """Alice proves old.alice.example, moves away, lets the name lapse; whoever holds the name
    next must not find her app served on it again without a fresh TXT record."""
    app = create_app(alice_client, domain="old.alice.example")
    fake_dns.records["_warren-challenge.old.alice.example"] = [app.domain_token]
    alice_client.post(reverse("webapps:verify_domain", args=[app.pk]))
    app.refresh_from_db()
    assert app.domain_verified
    services.webapp_set_domain(webapp=app, domain="new.alice.example")
    fake_dns.records.clear()
    result = services.webapp_set_domain(webapp=app, domain="old.alice.example")
    assert not result.ok and "not served until you prove" in result.message
    assert b"Hello from Flask" not in http_get(web_port, "old.alice.example")[2]
