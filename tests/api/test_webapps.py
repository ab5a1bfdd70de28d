"""Web apps through the API, on the real web front (nginx, uWSGI): create, reload, switch
off and on, static files; every URL a 404 for an outsider."""

import pytest

from execution_agent.testing.web import http_get
from tests.api.conftest import ApiClient, token_for
from webapps.models import StaticMapping, WebApp

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def alice(user, provisioned):
    return provisioned(user)


@pytest.fixture
def api(web, alice):
    return ApiClient(token_for(alice), "alice")


@pytest.fixture
def created(api):
    response = api.post("webapps/", '{"framework": "flask", "python_version": "3.11"}')
    assert response.status_code == 201, response.content
    return response.json()


def test_a_script_creates_reloads_and_switches_a_site_off_and_on(api, created, web_port):
    assert created["domain"] == "alice.localhost" and created["last_reload_ok"] is True
    assert b"Hello from Flask" in http_get(web_port, "alice.localhost")[2]
    assert [app["domain"] for app in api.get("webapps/").json()] == ["alice.localhost"]

    reloaded = api.post("webapps/alice.localhost/reload/")
    assert reloaded.status_code == 200 and reloaded.json()["ok"] is True, reloaded.content

    assert api.post("webapps/alice.localhost/disable/").status_code == 200
    assert b"Hello from Flask" not in http_get(web_port, "alice.localhost")[2]
    assert api.post("webapps/alice.localhost/enable/").json()["ok"] is True
    assert b"Hello from Flask" in http_get(web_port, "alice.localhost")[2]


def test_static_files_mappings_use_the_web_tabs_own_checks(api, created):
    bad = api.post(
        "webapps/alice.localhost/static_files/",
        '{"url": "/static/", "directory": "/home/alice/../mallory"}',
    )
    assert bad.status_code == 400 and "directory" in bad.json()["detail"]
    missing = api.post(
        "webapps/alice.localhost/static_files/", '{"url": "/s/", "directory": "/home/alice/nope"}'
    )
    assert missing.status_code == 400
    assert not StaticMapping.objects.exists()

    added = api.post(
        "webapps/alice.localhost/static_files/",
        '{"url": "/static/", "directory": "/home/alice/mysite"}',
    )
    assert added.status_code == 201, added.content
    listed = api.get("webapps/alice.localhost/static_files/").json()
    assert [(m["url"], m["directory"]) for m in listed] == [("/static/", "/home/alice/mysite")]
    removed = api.delete(f"webapps/alice.localhost/static_files/{added.json()['id']}/")
    assert removed.status_code == 200
    assert not StaticMapping.objects.exists()


def test_the_wizards_rules_refuse_a_second_app_and_bad_domains(api, created):
    second = api.post("webapps/", '{"framework": "flask", "python_version": "3.11"}')
    assert second.status_code == 400
    bad = api.post(
        "webapps/", '{"framework": "flask", "python_version": "3.11", "domain": "-bad-.com"}'
    )
    assert bad.status_code == 400
    assert WebApp.objects.count() == 1


OUTSIDER_CALLS = [
    ("get", "webapps/"),
    ("get", "webapps/alice.localhost/"),
    ("post", "webapps/alice.localhost/reload/"),
    ("post", "webapps/alice.localhost/enable/"),
    ("post", "webapps/alice.localhost/disable/"),
    ("get", "webapps/alice.localhost/static_files/"),
    ("post", "webapps/"),
]


@pytest.mark.parametrize(("method", "path"), OUTSIDER_CALLS)
def test_an_outsider_gets_404_for_every_web_app_url(created, outsider, method, path, web_port):
    outsider_api = ApiClient(token_for(outsider), "alice")
    if method == "get":
        response = outsider_api.get(path)
    else:
        response = outsider_api.post(path, '{"framework": "flask", "python_version": "3.11"}')
    assert response.status_code == 404, response.content
    # And not through their own URLs either.
    own = ApiClient(outsider_api.token, "mallory")
    assert own.get("webapps/alice.localhost/").status_code == 404
    assert WebApp.objects.get().enabled
    assert b"Hello from Flask" in http_get(web_port, "alice.localhost")[2]


def test_an_outsider_cannot_remove_a_static_mapping(api, created, outsider):
    added = api.post(
        "webapps/alice.localhost/static_files/",
        '{"url": "/static/", "directory": "/home/alice/mysite"}',
    ).json()
    outsider_api = ApiClient(token_for(outsider), "alice")
    assert (
        outsider_api.delete(f"webapps/alice.localhost/static_files/{added['id']}/").status_code
        == 404
    )
    assert StaticMapping.objects.filter(pk=added["id"]).exists()
