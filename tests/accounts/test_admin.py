import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.factories import ServerFactory

pytestmark = pytest.mark.django_db

WARREN_APPS = {
    "accounts",
    "servers",
    "files",
    "consoles",
    "webapps",
    "schedules",
    "databases",
    "billing",
    "education",
    "ssh",
    "api",
    "forums",
}


# Left out of the admin on purpose, each for a reason.
NOT_IN_ADMIN = {
    "billing.InvoiceCounter",  # the gapless sequence: only billing/invoicing.py may move it
    "forums.Subscription",  # a reader's own choice, changed from the topic page
}


def warren_models():
    return [
        m
        for m in apps.get_models()
        if m._meta.app_label in WARREN_APPS and m._meta.label not in NOT_IN_ADMIN
    ]


def test_every_warren_model_is_registered_in_the_admin():
    missing = [m._meta.label for m in warren_models() if not admin.site.is_registered(m)]
    assert missing == []


@pytest.mark.parametrize("model", warren_models(), ids=lambda m: m._meta.label)
def test_staff_can_list_search_and_add_every_model(staff_client, staff_user, user, model, rf):
    ServerFactory()
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(changelist, {"q": "alice"}).status_code == 200
    add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    # Records (invoices, payments, tokens, posts) are made by their services, never by hand.
    can_add = admin.site.get_model_admin(model).has_add_permission(
        staff_client.request().wsgi_request
    )
    assert staff_client.get(add).status_code == (200 if can_add else 403)


def test_the_user_list_shows_uid_and_plan(staff_client, user):
    html = staff_client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert str(user.uid) in html
    assert "Beginner" in html


def test_a_non_staff_user_cannot_reach_the_admin(alice_client):
    response = alice_client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_the_admin_is_branded_as_warren(staff_client):
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert "<title>Warren administration | Warren administration</title>" in html
    assert 'id="site-name"><a href="/admin/">Warren administration</a>' in html
    assert "<h1>Warren administration</h1>" in html
    assert "Django administration" not in html
    assert 'rel="icon"' in html


@pytest.mark.root
def test_a_users_admin_page_leads_to_their_things_for_support(
    staff_client, local_servers, provisioned, exec_agent
):
    from consoles.models import Console
    from consoles.services import console_start
    from tests.factories import person

    alice, bob = provisioned(person("alice")), provisioned(person("bob"))
    console_start(owner=alice, kind=Console.Kind.BASH)
    console_start(owner=bob, kind=Console.Kind.BASH)
    page = staff_client.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    html = page.content.decode()
    assert "From the Beginner plan: " in html
    assert "used of 512 MiB" in html  # live from her file server
    consoles = reverse("admin:consoles_console_changelist") + f"?owner__id__exact={alice.pk}"
    assert f'href="{consoles}"' in html
    for label in ("Web apps", "Consoles shared with them", "CPU-seconds day"):
        assert f">{label}</a>" in html

    listed = staff_client.get(consoles)
    assert listed.status_code == 200
    assert [c.owner for c in listed.context["cl"].result_list] == [alice]
    for link in re.findall(r'<li><a href="([^"]+)">', html):
        assert staff_client.get(link.replace("&amp;", "&")).status_code == 200, link


def test_a_sites_private_key_never_reaches_the_admin(staff_client, user):
    from webapps.models import Certificate, WebApp

    webapp = WebApp.objects.create(user=user, domain="www.example.com", framework="flask")
    certificate = Certificate.objects.create(
        webapp=webapp, domain=webapp.domain, source="uploaded", key_pem="PRIVATE-KEY-7f3a"
    )
    page = staff_client.get(reverse("admin:webapps_certificate_change", args=[certificate.pk]))
    assert page.status_code == 200
    assert "PRIVATE-KEY-7f3a" not in page.content.decode()
