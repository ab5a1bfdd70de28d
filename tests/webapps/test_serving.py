"""Web apps made on the Web tab, fetched through the real nginx and uWSGI vassals."""

import base64
import json
import time

import pytest
from django.urls import reverse

from accounts.models import Plan
from execution_agent.config import load_config
from execution_agent.testing.web import http_get, wait_for_body
from execution_agent.web.layout import WebLayout
from execution_agent.web.render import LOG_MAX_BYTES
from execution_agent.web.run import rotate_app_logs
from servers.agents import execution_agent, user_ref
from tests.fakes.dns import use_fake_dns
from tests.webapps.helpers import (
    create_app,
    reload,
    run_as,
    write_home_file,
    write_wsgi_file,
)
from webapps.models import WebApp

pytestmark = [pytest.mark.root, pytest.mark.django_db]

SPY_APP = r"""
import json, os

def application(environ, start_response):
    found = {"uid": os.getuid(), "homes": sorted(os.listdir("/home")),
             "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
             "tmp": sorted(os.listdir("/tmp"))}
    try:
        found["secret"] = open("/home/alice/secret.txt").read()
    except OSError as exc:
        found["secret"] = exc.strerror
    try:
        os.kill(int(environ.get("QUERY_STRING") or 1), 0)
        found["kill"] = "delivered"
    except OSError as exc:
        found["kill"] = exc.strerror
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(found).encode()]
"""


def test_flask_app_from_the_wizard_answers_through_nginx(web, alice_home, alice_client, web_port):
    webapp = create_app(alice_client, framework="flask")
    assert webapp.domain == "alice.localhost"
    assert webapp.last_reload_ok, webapp.last_reload_message
    status, _, body = http_get(web_port, "alice.localhost")
    assert (status, body) == (200, b"Hello from Flask!")
    page = alice_client.get(reverse("webapps:detail", args=[webapp.pk]))
    assert "/var/www/alice_localhost_wsgi.py" in page.content.decode()


def test_bottle_and_django_quickstarts_answer(
    web, user, alice_client, provisioned, web_port, settings
):
    user.plan = Plan.objects.get(slug="web-developer")
    user.save()
    provisioned(user)
    create_app(alice_client, framework="bottle")
    django_app = create_app(alice_client, framework="django", domain="django-site.example.org")
    # A custom domain is served once its TXT record proves it is the user's.
    use_fake_dns(settings).records[django_app.challenge_name] = [django_app.domain_token]
    alice_client.post(reverse("webapps:verify_domain", args=[django_app.pk]))
    django_app.refresh_from_db()
    assert django_app.last_reload_ok, django_app.last_reload_message
    assert http_get(web_port, "alice.localhost")[2] == b"Hello from Bottle!"
    status, _, body = http_get(web_port, "django-site.example.org")
    assert status == 200 and b"Django" in body


def test_static_mapping_is_served_and_symlinks_out_of_the_home_are_not(
    web, alice_home, mallory_home, alice_client, web_port
):
    webapp = create_app(alice_client, framework="flask")
    # Not Flask's own /static/: Flask would serve that folder itself, symlinks and all.
    run_as(alice_home, "mkdir", "-p", "/home/alice/mysite/assets")
    write_home_file(alice_home, "mysite/assets/style.css", "body { color: green }")
    run_as(alice_home, "ln", "-s", "/etc/hostname", "/home/alice/mysite/assets/host")
    run_as(alice_home, "ln", "-s", "/home/mallory/.bashrc", "/home/alice/mysite/assets/theirs")
    response = alice_client.post(
        reverse("webapps:static_add", args=[webapp.pk]),
        {"url": "/assets/", "directory": "/home/alice/mysite/assets"},
    )
    assert response.status_code == 302
    assert b"Reloaded" in reload(alice_client, webapp).content
    # "Reloaded" waits for the new ini's own line (execution_agent/web/check.py), yet once,
    # under CI load, the first request after it still met Flask's 404: the vassal had been
    # reloaded twice within a second (a start with the old ini, then one with the new), and
    # a worker of the old one seems to have outlived it (not proved; see stop 27's note).
    # A few seconds' grace, and the vassal's logs in the message if it never comes.
    try:
        status, body = wait_for_body(
            web_port, "alice.localhost", b"color: green", "/assets/style.css", timeout=5
        )
    except AssertionError as error:
        logs = {
            kind: execution_agent().web_log(
                user=user_ref(alice_home), domain="alice.localhost", kind=kind
            )["text"][-8000:]
            for kind in ("server", "error")
        }
        raise AssertionError(f"{error}; the vassal's logs: {logs}") from None
    assert (status, body) == (200, b"body { color: green }")
    # uWSGI refuses both symlinks and hands the request on to the app, which has no such page.
    assert http_get(web_port, "alice.localhost", "/assets/host")[0] == 404
    assert http_get(web_port, "alice.localhost", "/assets/theirs")[0] == 404


def test_password_protection_gives_401_without_credentials(web, alice_home, alice_client, web_port):
    webapp = create_app(alice_client)
    alice_client.post(
        reverse("webapps:password", args=[webapp.pk]),
        {"username": "boss", "password": "open sesame"},
    )
    assert b"Reloaded" in reload(alice_client, webapp).content
    assert http_get(web_port, "alice.localhost")[0] == 401
    good = {"Authorization": "Basic " + base64.b64encode(b"boss:open sesame").decode()}
    status, _, body = http_get(web_port, "alice.localhost", headers=good)
    assert (status, body) == (200, b"Hello from Flask!")


def test_force_https_redirects_plain_http(web, alice_home, alice_client, web_port, settings):
    webapp = create_app(alice_client)
    alice_client.post(reverse("webapps:force_https", args=[webapp.pk]), {"force_https": "on"})
    reload(alice_client, webapp)
    status, headers, _ = http_get(web_port, "alice.localhost", "/hello")
    assert status == 301
    # To the port nginx's HTTPS listener is on (443 in production: no port in the URL).
    https_port = settings.WARREN_WEBAPPS_HTTPS_PORT
    assert headers["location"] == f"https://alice.localhost:{https_port}/hello"


def test_code_change_shows_after_reload_and_after_touching_the_wsgi_file(
    web, alice_home, alice_client, web_port
):
    webapp = create_app(alice_client)
    write_home_file(
        alice_home,
        "mysite/flask_app.py",
        "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/')\ndef hi():\n"
        "    return 'changed once'\n",
    )
    assert http_get(web_port, "alice.localhost")[2] == b"Hello from Flask!"
    assert b"Reloaded" in reload(alice_client, webapp).content
    assert http_get(web_port, "alice.localhost")[2] == b"changed once"
    write_home_file(
        alice_home,
        "mysite/flask_app.py",
        "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/')\ndef hi():\n"
        "    return 'changed twice'\n",
    )
    run_as(alice_home, "touch", webapp.wsgi_file)  # from a console, as the seed's alias does
    wait_for_body(web_port, "alice.localhost", b"changed twice")


def test_virtualenv_warning_appears_and_disappears(web, alice_home, alice_client):
    webapp = create_app(alice_client)
    run_as(alice_home, "mkdir", "-p", "/home/alice/.virtualenvs/old/bin")
    run_as(alice_home, "ln", "-s", "/usr/bin/python3", "/home/alice/.virtualenvs/old/bin/python")
    write_home_file(alice_home, ".virtualenvs/old/pyvenv.cfg", "home = /usr/bin\nversion = 3.9.2\n")
    url = reverse("webapps:setting", args=[webapp.pk, "virtualenv"])
    response = alice_client.post(url, {"value": "/home/alice/.virtualenvs/old"})
    assert response.status_code == 302
    page = alice_client.get(reverse("webapps:detail", args=[webapp.pk])).content.decode()
    assert "made with Python 3.9" in page
    write_home_file(
        alice_home, ".virtualenvs/old/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.2\n"
    )
    page = alice_client.get(reverse("webapps:detail", args=[webapp.pk])).content.decode()
    assert "virtualenv-warning" not in page


def test_disabled_app_gets_the_warren_page(web, alice_home, alice_client, web_port):
    webapp = create_app(alice_client)
    alice_client.post(reverse("webapps:enabled", args=[webapp.pk]), {"enabled": "off"})
    status, _, body = http_get(web_port, "alice.localhost")
    assert status == 404 and b"Served by Warren" in body
    alice_client.post(reverse("webapps:enabled", args=[webapp.pk]), {"enabled": "on"})
    assert http_get(web_port, "alice.localhost")[2] == b"Hello from Flask!"


def test_one_users_app_cannot_read_another_users_home(
    web, alice_home, mallory_home, alice_client, outsider_client, web_port
):
    write_home_file(alice_home, "secret.txt", "alice's diary")
    run_as(alice_home, "touch", "/tmp/alice-was-here")
    alice_pid = execution_agent().spawn(user=user_ref(alice_home), argv=["sleep", "60"])["pid"]
    create_app(alice_client)
    theirs = create_app(outsider_client, framework="manual")
    write_wsgi_file(theirs, SPY_APP)
    response = reload(outsider_client, theirs).content.decode()
    assert "Reloaded" in response, response
    _, _, body = http_get(web_port, "mallory.localhost", f"/?{alice_pid}")
    found = json.loads(body)
    assert found["homes"] == ["mallory"]
    assert found["secret"] == "No such file or directory"
    assert "alice-was-here" not in found["tmp"]
    assert alice_pid not in found["pids"] and max(found["pids"]) < 20
    assert found["kill"] == "No such process"


def test_a_broken_app_leaves_another_users_site_answering(
    web, alice_home, mallory_home, alice_client, outsider_client, web_port
):
    create_app(alice_client)
    theirs = create_app(outsider_client, framework="manual")
    write_wsgi_file(theirs, "def application(:\n    broken\n")
    response = reload(outsider_client, theirs)
    text = response.content.decode()
    assert "could not be loaded" in text and "SyntaxError" in text
    assert http_get(web_port, "alice.localhost")[2] == b"Hello from Flask!"
    assert http_get(web_port, "mallory.localhost")[0] == 500


def test_logs_are_tailed_and_downloadable(web, alice_home, alice_client, web_port):
    webapp = create_app(alice_client)
    http_get(web_port, "alice.localhost", "/some/page")
    url = reverse("webapps:log", args=[webapp.pk, "access"])
    deadline = time.monotonic() + 5  # nginx flushes its buffered access log every second
    while "GET /some/page" not in (text := alice_client.get(url).content.decode()):
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    assert "response-time=" in text
    server = alice_client.get(reverse("webapps:log", args=[webapp.pk, "server"]))
    assert "spawned uWSGI worker" in server.content.decode()
    download = alice_client.get(reverse("webapps:log_download", args=[webapp.pk, "access"]))
    assert download.status_code == 200
    assert b"GET /some/page" in b"".join(download.streaming_content)
    assert WebApp.objects.count() == 1


TRACEBACK_APP = r"""
def application(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("the traceback alice came to read")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]
"""


def test_error_log_tab_keeps_the_traceback_across_reloads_and_links_previous_files(
    web, exec_agent, alice_home, alice_client, outsider_client, web_port
):
    webapp = create_app(alice_client, framework="manual")
    write_wsgi_file(webapp, TRACEBACK_APP)
    assert "Reloaded" in reload(alice_client, webapp).content.decode()
    assert http_get(web_port, "alice.localhost", "/boom")[0] >= 500
    for _ in range(2):
        assert "Reloaded" in reload(alice_client, webapp).content.decode()
    url = reverse("webapps:log", args=[webapp.pk, "error"])
    page = alice_client.get(url).content.decode()
    assert "the traceback alice came to read" in page
    assert "previous 1" not in page

    # Past the size limit the log rotates: the tab shows the new file and links the old one.
    layout = WebLayout(load_config(exec_agent.env()))
    log = layout.logs / str(user_ref(webapp.user)["uid"]) / "alice.localhost.error.log"
    with open(log, "ab") as handle:
        handle.write(b"x" * LOG_MAX_BYTES + b"\nlast line before the rotation\n")
    rotate_app_logs(layout)
    page = alice_client.get(url).content.decode()
    assert "the traceback alice came to read" not in page
    assert f'href="{url}?previous=1"' in page
    previous = alice_client.get(url, {"previous": 1}).content.decode()
    assert "last line before the rotation" in previous
    assert "previous file 1" in previous
    download = alice_client.get(
        reverse("webapps:log_download", args=[webapp.pk, "error"]), {"previous": 1}
    )
    assert b"the traceback alice came to read" in b"".join(download.streaming_content)
    for bad in ("0", "6", "x", "-1"):
        assert alice_client.get(url, {"previous": bad}).status_code == 404
    assert "Nothing logged yet" in alice_client.get(url, {"previous": 2}).content.decode()
    assert outsider_client.get(url, {"previous": 1}).status_code == 404


def test_a_mapping_of_the_home_hides_dotfiles_unless_the_box_is_ticked(
    web, alice_home, alice_client, outsider_client, web_port
):
    webapp = create_app(alice_client, framework="manual")
    write_home_file(alice_home, ".bash_history", "mysql -p hunter2\n")
    write_home_file(alice_home, "public.txt", "hello")
    add = reverse("webapps:static_add", args=[webapp.pk])
    response = alice_client.post(add, {"url": "/", "directory": "/home/alice"}, follow=True)
    page = response.content.decode()
    assert "publishes your whole home" in page  # the message, and the row's own warning
    assert page.count("publishes your whole home") == 2
    assert "hidden" in page
    assert b"Reloaded" in reload(alice_client, webapp).content
    assert http_get(web_port, "alice.localhost", "/public.txt")[2] == b"hello"
    for path in ("/.bash_history", "/%2ebash_history", "/x/../.bash_history"):
        status, _, body = http_get(web_port, "alice.localhost", path)
        assert status == 404 and b"hunter2" not in body, path

    webapp.static_mappings.get().delete()
    response = alice_client.post(add, {"url": "/", "directory": "/home/alice", "dotfiles": "on"})
    assert response.status_code == 302
    assert webapp.static_mappings.get().dotfiles
    assert b"Reloaded" in reload(alice_client, webapp).content
    assert http_get(web_port, "alice.localhost", "/.bash_history")[2] == b"mysql -p hunter2\n"
    # Someone else's account cannot add a mapping to alice's app.
    assert (
        outsider_client.post(add, {"url": "/o/", "directory": "/home/mallory"}).status_code == 404
    )
