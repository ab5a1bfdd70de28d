import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import ServerFactory
from tests.totp import totp_code

pytestmark = pytest.mark.django_db

STRONG = "a very long and unusual passphrase"


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings, request):
    # A key space of its own per test: rate-limit counters from other tests must not count.
    caches = {alias: dict(config) for alias, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = (
        f"{caches['default'].get('KEY_PREFIX', '')}-{abs(hash(request.node.nodeid))}"
    )
    settings.CACHES = caches


def sign_up(client, **fields):
    data = {"username": "newbie", "email": "newbie@example.com", "password1": STRONG}
    data["password2"] = data["password1"]
    data.update(fields)
    return client.post(reverse("account_signup"), data)


def confirmation_link():
    assert mail.outbox, "no confirmation email was sent"
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", mail.outbox[-1].body)[1]


def test_signing_up_sends_a_confirmation_and_gives_a_file_server(client):
    file_server = ServerFactory(kind="file")
    response = sign_up(client)
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.plan.slug == "beginner"
    assert user.file_server == file_server
    assert not EmailAddress.objects.get(user=user).verified
    assert "newbie@example.com" in mail.outbox[-1].to


def test_confirming_the_email_logs_the_user_in_to_the_dashboard(client):
    sign_up(client)
    link = confirmation_link()
    response = client.post(link)
    assert response.status_code == 302
    assert EmailAddress.objects.get(email="newbie@example.com").verified
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert b"Welcome, newbie" in dashboard.content


def test_confirming_after_allauths_login_window_still_signs_in_the_browser_that_signed_up(
    client, settings
):
    # allauth keeps the signing-up login for ACCOUNT_LOGIN_TIMEOUT (15 minutes); a newcomer
    # who reads the mail later was sent to the login page. 0: the window has passed.
    sign_up(client)
    settings.ACCOUNT_LOGIN_TIMEOUT = 0
    response = client.post(confirmation_link())
    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert b"Welcome, newbie" in client.get(reverse("dashboard")).content


def test_confirming_in_another_browser_confirms_but_does_not_sign_in(client):
    """Whoever holds the link (a mail log, a forwarded mail) must not get a session from it."""
    sign_up(client)
    link = confirmation_link()
    other = Client()
    response = other.post(link)
    assert EmailAddress.objects.get(email="newbie@example.com").verified
    assert response.url == reverse("account_login")
    assert "_auth_user_id" not in other.session
    # Nor does the link sign anyone in once used, in the browser that signed up either.
    client.post(link)
    client.logout()
    assert "_auth_user_id" not in client.session
    client.post(link)
    assert "_auth_user_id" not in client.session


def test_an_unconfirmed_user_cannot_log_in(client):
    sign_up(client)
    client.logout()
    response = client.post(reverse("account_login"), {"login": "newbie", "password": STRONG})
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "username, message",
    [
        ("x", "between 3 and 30"),
        ("bad_name", "lowercase letters"),
        ("root", "reserved"),
        ("admin", "reserved"),
        ("alice", "already exists"),
    ],
)
def test_bad_usernames_get_a_form_error_and_create_nothing(client, user, username, message):
    before = User.objects.count()
    response = sign_up(client, username=username, email="someone@example.com")
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["username"])
    assert User.objects.count() == before
    assert not mail.outbox


def test_a_weak_password_is_refused(client):
    response = sign_up(client, password1="password", password2="password")
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.filter(username="newbie").exists()


def test_users_log_in_with_username_or_email(client, user, password):
    for login in ("alice", "alice@example.com"):
        client.logout()
        response = client.post(reverse("account_login"), {"login": login, "password": password})
        assert response.status_code == 302, login
        assert response.url == reverse("dashboard")


def test_repeated_failed_logins_are_rate_limited(client, user, password):
    for _ in range(5):
        response = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
        assert response.status_code == 200
    response = client.post(reverse("account_login"), {"login": "alice", "password": password})
    assert "_auth_user_id" not in client.session
    assert b"Too many failed login attempts" in response.content


def log_in(client, username, password):
    return client.post(reverse("account_login"), {"login": username, "password": password})


def activate_totp(client, password) -> str:
    # Turning on 2FA is a sensitive change: allauth asks for the password again first.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.url.startswith(reverse("account_reauthenticate"))
    client.post(reverse("account_reauthenticate"), {"password": password})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    return secret


def test_turning_on_totp_gives_recovery_codes_and_asks_for_a_code_at_login(client, user, password):
    log_in(client, "alice", password)
    secret = activate_totp(client, password)
    types = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}

    client.post(reverse("account_logout"))
    response = log_in(client, "alice", password)
    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get(reverse("account")).status_code == 200


def test_a_wrong_totp_code_is_refused(client, user, password):
    log_in(client, "alice", password)
    secret = activate_totp(client, password)
    client.post(reverse("account_logout"))
    log_in(client, "alice", password)
    wrong = "000000" if totp_code(secret) != "000000" else "111111"
    response = client.post(reverse("mfa_authenticate"), {"code": wrong})
    assert response.status_code == 200
    assert b"Incorrect code" in response.content
    assert "_auth_user_id" not in client.session


def test_a_wrong_code_does_not_activate_totp(client, user, password):
    log_in(client, "alice", password)
    client.post(reverse("account_reauthenticate"), {"password": password})
    client.get(reverse("mfa_activate_totp"))
    response = client.post(reverse("mfa_activate_totp"), {"code": "12345"})
    assert response.status_code == 200
    assert not Authenticator.objects.filter(user=user).exists()


def test_password_reset_mails_a_link(client, user):
    response = client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert "/accounts/password/reset/key/" in mail.outbox[-1].body
