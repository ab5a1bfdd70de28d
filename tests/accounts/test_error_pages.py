"""404 and 403 pages wear the site's layout and offer a way back (DEBUG is off, as in tests)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import get_resolver

pytestmark = pytest.mark.django_db


def test_a_missing_page_keeps_the_tabs_and_leads_back_to_the_dashboard(alice_client, settings):
    assert settings.DEBUG is False
    response = alice_client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html and "<code>/no/such/page/</code>" in html
    assert 'class="tabs"' in html and 'href="/">Back to your dashboard' in html
    assert "Not Found</h1>" not in html  # Django's bare page


def test_someone_elses_object_is_the_same_friendly_404(alice_client, outsider):
    response = alice_client.get(f"/files/browse/home/{outsider.username}/")
    assert response.status_code == 404
    assert "Back to your dashboard" in response.content.decode()


def test_a_visitor_who_is_not_signed_in_is_offered_the_sign_in_page(client):
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html and 'href="/accounts/login/">Sign in to' in html
    assert 'class="tabs"' not in html


@pytest.mark.parametrize("signed_in", [True, False])
def test_the_403_handler_has_the_layout_and_a_way_back(user, signed_in):
    request = RequestFactory().get("/somewhere/")
    request.user = user if signed_in else AnonymousUser()
    response = get_resolver().resolve_error_handler(403)(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in html and "You do not have permission" in html
    assert ("Back to your dashboard" in html) is signed_in
    assert ("Sign in to" in html) is not signed_in
