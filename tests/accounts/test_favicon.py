"""Warren ships its icon: pages link it, and /favicon.ico (asked for regardless) finds it."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def served(client, url: str):
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_pages_link_an_icon_that_is_served(alice_client, client):
    for page, who in ((reverse("dashboard"), alice_client), (reverse("account_login"), client)):
        html = who.get(page).content.decode()
        start = html.index('<link rel="icon" href="') + len('<link rel="icon" href="')
        response, body = served(client, html[start : html.index('"', start)])
        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml" and body.startswith(b"<svg")


def test_favicon_ico_is_there_even_for_visitors_not_signed_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and "/accounts/login/" not in response["Location"]
    icon, body = served(client, response["Location"])
    assert icon.status_code == 200
    assert body[:4] == b"\0\0\1\0"  # an ICO header
    assert body[22:26] == b"\x89PNG"
