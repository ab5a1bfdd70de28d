"""The Web tab's pages and forms: owners only, clear errors for bad input, nothing half-written."""

import html

import pytest
from django.urls import reverse

from accounts.models import Plan
from tests.factories import UserFactory
from tests.fakes.dns import use_fake_dns
from tests.webapps.helpers import create_app, run_as
from webapps.models import StaticMapping, WebApp
from webapps.quickstart import create_project

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def webapp(web, alice_home):
    """Alice's Flask app as saved by the wizard, with its project files, not yet served: the
    pages and forms under test here never need it running."""
    source = create_project(user=alice_home, framework="flask", python_version="3.11", domain="")
    return WebApp.objects.create(
        user=alice_home, domain="alice.localhost", framework="flask", python_version="3.11",
        source_dir=source, working_dir=source,
    )  # fmt: skip


@pytest.fixture
def served_webapp(web, alice_home, alice_client):
    return create_app(alice_client)


def snapshot(webapp):
    webapp.refresh_from_db()
    fields = ("domain", "working_dir", "virtualenv", "workers", "auth_password_hash")
    return {name: getattr(webapp, name) for name in fields}, webapp.last_reload_at


OBJECT_URLS = [
    ("webapps:detail", "get", {}),
    ("webapps:reload", "post", {}),
    ("webapps:enabled", "post", {"enabled": "off"}),
    ("webapps:force_https", "post", {"force_https": "on"}),
    ("webapps:password", "post", {"username": "x", "password": "y"}),
    ("webapps:static_add", "post", {"url": "/s/", "directory": "/home/mallory"}),
    ("webapps:delete", "post", {}),
    ("webapps:verify_domain", "post", {}),
]


@pytest.mark.parametrize(("name", "method", "data"), OBJECT_URLS)
def test_outsider_gets_404_for_every_app_url(webapp, outsider_client, name, method, data):
    before = snapshot(webapp)
    response = getattr(outsider_client, method)(reverse(name, args=[webapp.pk]), data)
    assert response.status_code == 404
    assert snapshot(webapp) == before


def test_outsider_gets_404_for_settings_logs_and_mappings(webapp, outsider_client):
    mapping = StaticMapping.objects.create(webapp=webapp, url="/s/", directory="/home/alice")
    for url in (
        reverse("webapps:setting", args=[webapp.pk, "workers"]),
        reverse("webapps:log", args=[webapp.pk, "access"]),
        reverse("webapps:log_download", args=[webapp.pk, "error"]),
        reverse("webapps:static_delete", args=[webapp.pk, mapping.pk]),
    ):
        assert outsider_client.get(url).status_code in (404, 405)
        assert outsider_client.post(url, {"value": "2"}).status_code == 404
    assert StaticMapping.objects.filter(pk=mapping.pk).exists()


def test_detail_page_shows_every_setting_and_the_logs(webapp, alice_client):
    page = alice_client.get(reverse("webapps:detail", args=[webapp.pk])).content.decode()
    for text in (
        "Reload alice.localhost",
        "/home/alice/mysite",
        "/var/www/alice_localhost_wsgi.py",
        "Static files",
        "Password protection",
        "Force HTTPS",
        "alice.localhost.access.log",
        "alice.localhost.error.log",
        "alice.localhost.server.log",
    ):
        assert text in page


def test_detail_page_query_count(webapp, alice_client, django_assert_max_num_queries):
    StaticMapping.objects.create(webapp=webapp, url="/a/", directory="/home/alice")
    StaticMapping.objects.create(webapp=webapp, url="/b/", directory="/home/alice")
    with django_assert_max_num_queries(12):
        alice_client.get(reverse("webapps:detail", args=[webapp.pk]))


def test_inline_edit_saves_one_setting_and_returns_the_row(webapp, alice_client):
    run_as(webapp.user, "mkdir", "-p", "/home/alice/elsewhere")
    url = reverse("webapps:setting", args=[webapp.pk, "working_dir"])
    form = alice_client.get(url, HTTP_HX_REQUEST="true")
    assert 'name="value"' in form.content.decode()
    response = alice_client.post(url, {"value": "elsewhere"}, HTTP_HX_REQUEST="true")
    assert "press Reload" in response.content.decode()
    webapp.refresh_from_db()
    assert webapp.working_dir == "/home/alice/elsewhere"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("working_dir", "/etc", "must be inside your home"),
        ("working_dir", "/home/alice/../mallory", "may not contain"),
        ("working_dir", "/home/alice/nowhere", "does not exist"),
        ("source_dir", "/home/alice/a b", "no spaces"),
        ("virtualenv", "/home/alice/.virtualenvs/missing", "does not exist"),
        ("virtualenv", "/home/alice/mysite", "has no Python"),
        ("workers", "5", "allows 1 worker per web app"),
        ("workers", "0", "greater than or equal to 1"),
        ("domain", "not a domain", "Enter a domain name"),
        ("domain", "www.example.com", "does not include custom domains"),
        ("domain", "bob.localhost", "belong to their users"),
    ],
)
def test_bad_setting_is_a_form_error_and_changes_nothing(
    webapp, alice_client, field, value, message
):
    before = snapshot(webapp)
    url = reverse("webapps:setting", args=[webapp.pk, field])
    response = alice_client.post(url, {"value": value}, HTTP_HX_REQUEST="true")
    assert message in response.content.decode()
    assert snapshot(webapp) == before


def test_taken_domain_is_refused(webapp, alice_client, db):
    other = UserFactory(username="carol")
    WebApp.objects.create(
        user=other, domain="www.example.org", framework="manual", python_version="3.11",
        working_dir="/home/carol",
    )  # fmt: skip
    alice = webapp.user
    alice.plan = Plan.objects.get(slug="hacker")
    alice.save()
    url = reverse("webapps:setting", args=[webapp.pk, "domain"])
    response = alice_client.post(url, {"value": "WWW.example.org"}, HTTP_HX_REQUEST="true")
    assert "already taken" in response.content.decode()


def test_empty_password_is_refused(webapp, alice_client):
    before = snapshot(webapp)
    response = alice_client.post(
        reverse("webapps:password", args=[webapp.pk]), {"username": "boss", "password": ""}
    )
    assert response.status_code == 400
    assert "Enter a password" in response.content.decode()
    assert snapshot(webapp) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "/static/", "directory": "/etc"}, "must be inside your home"),
        ({"url": "/static/", "directory": "/home/alice/nothing-here"}, "does not exist"),
        ({"url": "/../", "directory": "/home/alice"}, "Enter a URL path"),
    ],
)
def test_bad_static_mapping_is_refused(webapp, alice_client, data, message):
    response = alice_client.post(reverse("webapps:static_add", args=[webapp.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not StaticMapping.objects.exists()


def test_static_directory_symlinked_out_of_the_home_is_refused(webapp, alice_client):
    run_as(webapp.user, "ln", "-s", "/etc", "/home/alice/etc-link")
    response = alice_client.post(
        reverse("webapps:static_add", args=[webapp.pk]),
        {"url": "/static/", "directory": "/home/alice/etc-link"},
    )
    assert "leads out of your home" in response.content.decode()
    assert not StaticMapping.objects.exists()


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("bad_domain!", "Enter a domain name"),
        ("www.example.com", "does not include custom domains"),
    ],
)
def test_wizard_refuses_bad_domains_and_creates_nothing(
    web, alice_home, alice_client, domain, message
):
    response = alice_client.post(
        reverse("webapps:new"),
        {"framework": "flask", "python_version": "3.11", "domain": domain},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WebApp.objects.exists()


def test_wizard_refuses_a_second_app_on_a_one_app_plan(webapp, alice_client):
    response = alice_client.post(
        reverse("webapps:new"), {"framework": "bottle", "python_version": "3.11", "domain": ""}
    )
    assert response.status_code == 400
    assert "Your plan allows 1 web app" in response.content.decode()
    assert WebApp.objects.count() == 1


def test_wizard_offers_only_pythons_with_a_uwsgi_plugin(web, alice_home, alice_client):
    page = alice_client.get(reverse("webapps:new")).content.decode()
    assert 'value="3.11"' in page
    response = alice_client.post(
        reverse("webapps:new"), {"framework": "flask", "python_version": "2.7", "domain": ""}
    )
    assert response.status_code == 400
    assert not WebApp.objects.exists()


def test_delete_takes_the_site_off_but_keeps_the_files(served_webapp, alice_client, web_port):
    webapp = served_webapp
    from execution_agent.testing.web import http_get

    response = alice_client.post(reverse("webapps:delete", args=[webapp.pk]))
    assert response.status_code == 302
    assert not WebApp.objects.exists()
    assert b"Served by Warren" in http_get(web_port, "alice.localhost")[2]
    assert run_as(webapp.user, "cat", "/home/alice/mysite/flask_app.py")["stdout"]


def test_index_without_apps_shows_the_wizard(web, alice_home, alice_client):
    page = alice_client.get(reverse("webapps:index")).content.decode()
    assert "Add a new web app" in page and "Flask" in page and "Bottle" in page


def test_the_editor_offers_to_reload_the_app_whose_wsgi_file_is_open(served_webapp, alice_client):
    page = alice_client.get(reverse("files:edit", args=["var/www/alice_localhost_wsgi.py"]))
    assert page.status_code == 200
    assert "Reload alice.localhost" in page.content.decode()
    other = alice_client.get(reverse("files:edit", args=["home/alice/mysite/flask_app.py"]))
    assert "editor-reload-button" not in other.content.decode()


@pytest.fixture
def fake_dns(settings):
    return use_fake_dns(settings)


@pytest.fixture
def custom_webapp(webapp):
    """Alice's app moved to a domain of her own, not proven yet."""
    webapp.user.plan = Plan.objects.get(slug="hacker")
    webapp.user.save(update_fields=["plan"])
    webapp.domain = "www.alice-example.org"
    webapp.save(update_fields=["domain"])
    return webapp


def test_custom_domain_page_says_which_txt_record_to_add(custom_webapp, alice_client):
    page = alice_client.get(reverse("webapps:detail", args=[custom_webapp.pk])).content.decode()
    assert "www.alice-example.org is not served yet" in page
    assert "_warren-challenge.www.alice-example.org" in page
    assert custom_webapp.domain_token in page and "Check now" in page


def test_own_address_needs_no_txt_record(webapp, alice_client):
    page = alice_client.get(reverse("webapps:detail", args=[webapp.pk])).content.decode()
    assert "_warren-challenge" not in page and "Check now" not in page


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "_warren-challenge.www.alice-example.org does not exist in the DNS yet"),
        ("silent", "The DNS did not answer in time"),
        (["someone-elses-token"], 'has "someone-elses-token", not'),
        ([], "has no TXT record, not"),
    ],
)
def test_check_now_with_a_bad_dns_answer_says_why_and_verifies_nothing(
    custom_webapp,
    alice_client,
    fake_dns,
    answer,
    message,
):
    name = "_warren-challenge.www.alice-example.org"
    if answer == "silent":
        fake_dns.silent.add(name)
    elif answer is not None:
        fake_dns.records[name] = answer
    url = reverse("webapps:verify_domain", args=[custom_webapp.pk])
    page = alice_client.post(url, follow=True).content.decode()
    assert message in html.unescape(page)
    custom_webapp.refresh_from_db()
    assert custom_webapp.verified_domain == "" and not custom_webapp.domain_verified
    assert custom_webapp.last_reload_at is None


def test_wizard_domain_placeholder_is_the_users_own_address(web, alice_home, alice_client):
    page = alice_client.get(reverse("webapps:new")).content.decode()
    assert 'placeholder="alice.localhost"' in page


def test_wsgi_file_comment_gives_the_site_url_with_its_port(served_webapp, web_port):
    text = run_as(served_webapp.user, "cat", served_webapp.wsgi_file)["stdout"]
    assert f"# http://alice.localhost:{web_port}/\n" in text


def test_page_says_changes_are_pending_until_the_next_reload(served_webapp, alice_client):
    webapp = served_webapp
    detail = reverse("webapps:detail", args=[webapp.pk])
    assert "Changes pending" not in alice_client.get(detail).content.decode()
    run_as(webapp.user, "mkdir", "-p", "/home/alice/mysite/static")
    alice_client.post(
        reverse("webapps:static_add", args=[webapp.pk]),
        {"url": "/static/", "directory": "/home/alice/mysite/static"},
    )
    assert "Changes pending" in alice_client.get(detail).content.decode()
    alice_client.post(reverse("webapps:reload", args=[webapp.pk]))
    assert "Changes pending" not in alice_client.get(detail).content.decode()

    alice_client.post(reverse("webapps:setting", args=[webapp.pk, "workers"]), {"value": "1"})
    assert "Changes pending" in alice_client.get(detail).content.decode()
    alice_client.post(reverse("webapps:reload", args=[webapp.pk]), HTTP_HX_REQUEST="true")
    assert "Changes pending" not in alice_client.get(detail).content.decode()

    mapping = webapp.static_mappings.get()
    alice_client.post(reverse("webapps:static_delete", args=[webapp.pk, mapping.pk]))
    assert "Changes pending" in alice_client.get(detail).content.decode()
