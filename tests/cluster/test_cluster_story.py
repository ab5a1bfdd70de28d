"""A user's day across four machines: each request lands where the server registry says.

dash (ASGI, beat, default worker, the console and task servers' agent), web (web server:
agent, Emperor, nginx, worker on exec.web), file (fileserver agent) and db (PostgreSQL,
Redis) are separate network namespaces; each node sees only its own agent socket, so a call
that reached another machine's agent went through that machine's queue.
"""

import asyncio
import json
import os
import re
import time

import psycopg
import pytest
import requests
import websockets

from tests.live import find_link

pytestmark = [pytest.mark.root]

PASSWORD = "correct horse battery staple 42"
USERNAME = "clara"


def registry(cluster, sql: str, *params):
    """One row from the cluster's own database (asked from the hub, over the bridge)."""
    with psycopg.connect(cluster.database_url) as connection:
        return connection.execute(sql, params).fetchone()


def csrf_from(session: requests.Session, page: requests.Response) -> str:
    return (
        session.cookies.get("csrftoken")
        or re.search(r'csrfmiddlewaretoken" value="([^"]+)', page.text)[1]
    )


def post_form(session, url: str, data: dict, **kwargs) -> requests.Response:
    page = session.get(url, timeout=30)
    assert page.status_code == 200, page.text[:500]
    return session.post(
        url,
        data={**data, "csrfmiddlewaretoken": csrf_from(session, page)},
        allow_redirects=False,
        timeout=60,
        **kwargs,
    )


def sign_up(cluster, username: str = USERNAME) -> requests.Session:
    session = requests.Session()
    url = cluster.dashboard_url
    response = post_form(
        session,
        f"{url}/accounts/signup/",
        {
            "username": username,
            "email": f"{username}@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302, response.text[:2000]
    deadline = time.monotonic() + 20
    while not (link := find_link(confirmations(cluster, username), "/accounts/confirm-email/")):
        assert time.monotonic() < deadline, "no confirmation email in the dashboard's log"
        time.sleep(0.2)
    confirmed = post_form(session, f"{url}{link}", {})
    assert confirmed.status_code == 302, confirmed.text[:500]
    assert session.get(f"{url}/", timeout=30).status_code == 200
    return session


def start_console(cluster, session) -> str:
    page = session.get(f"{cluster.dashboard_url}/consoles/", timeout=30)
    response = session.post(
        f"{cluster.dashboard_url}/consoles/new/",
        data={"kind": "bash", "csrfmiddlewaretoken": csrf_from(session, page)},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"].strip("/").split("/")[-1]


async def console_says(cluster, session, console_id: str, command: str, marker: bytes) -> bytes:
    host = cluster.dashboard_url.removeprefix("http://")
    url = f"ws://{host}/ws/consoles/{console_id}/?rows=24&cols=120"
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    headers = {"Cookie": cookie, "Origin": cluster.dashboard_url}
    seen = b""
    async with websockets.connect(url, additional_headers=headers) as socket:
        await socket.send(command.encode() + b"\r")
        while marker not in seen:
            frame = await asyncio.wait_for(socket.recv(), 20)
            if isinstance(frame, bytes):
                seen += frame
                await socket.send(json.dumps({"type": "ack", "bytes": len(frame)}))
    return seen


def save_file(cluster, session, path: str, text: str) -> requests.Response:
    """What the editor's Save does: the raw text, with the page's CSRF token."""
    url = f"{cluster.dashboard_url}/files/edit/{path}"
    page = session.get(url, timeout=30)
    assert page.status_code == 200, page.text[:500]
    return session.post(
        url, data=text.encode(), headers={"X-CSRFToken": csrf_from(session, page)}, timeout=60
    )


# The sandbox has its own hostname: the machine shows in the addresses of its network.
MY_ADDRESS = "awk '/32 host LOCAL/ {print a} {a=$2}' /proc/net/fib_trie | grep -v '^127' | sort -u"

EDITED_APP = """from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello_world():
    return "edited through the dashboard, served by the web server"
"""


def test_a_user_day_lands_on_the_machines_the_registry_names(cluster, hub):
    session = hub(sign_up, cluster)

    # Sign-up: the registry gave the home to the file server, whose agent made it there.
    (file_host,) = hub(registry, cluster, USER_SERVER.format(column="file_server_id"), USERNAME)
    assert file_host == "file"
    (pk,) = hub(registry, cluster, "select id from accounts_user where username = %s", USERNAME)
    uid = cluster.uid_base + pk
    home = cluster.base / "shared" / "homes" / USERNAME
    wait_until(home.exists, lambda: cluster.log("worker-dash"))
    assert os.stat(home).st_uid == uid
    file_log = cluster.log("fsagent")
    assert f"created home {cluster.node_dir('file')}/homes/{USERNAME}" in file_log, file_log

    # A console: in the tmux of the console server the registry names (dash, 10.77.0.10).
    console_id = hub(start_console, cluster, session)
    (console_host,) = hub(
        registry,
        cluster,
        "select s.hostname from consoles_console c join servers_server s on s.id = c.server_id"
        " where c.id = %s",
        console_id,
    )
    assert console_host == "dash"
    command = f"echo at-$({MY_ADDRESS})-$((40+2))"
    screen = hub(lambda: asyncio.run(console_says(cluster, session, console_id, command, b"-42")))
    assert b"at-10.77.0.10-42" in screen

    # A web app: the dashboard (dash) asks the web server's agent (web) through exec.web.
    page = hub(
        post_form,
        session,
        f"{cluster.dashboard_url}/web/new/",
        {"framework": "flask", "python_version": "3.11", "domain": ""},
    )
    assert page.status_code == 302, page.text[:3000]
    (web_host,) = hub(
        registry,
        cluster,
        "select s.hostname from webapps_webapp w join servers_server s on s.id = w.server_id"
        " join accounts_user u on u.id = w.user_id where u.username = %s",
        USERNAME,
    )
    assert web_host == "web"
    assert "servers.tasks.agent_call" in cluster.log("worker-web")
    assert "Hello from Flask!" in hub(site_text, USERNAME)

    # A file edit through the dashboard's agent, served by the web server after a Reload:
    # the homes are one (NFS in production, a bind mount here).
    saved = hub(save_file, cluster, session, f"home/{USERNAME}/mysite/flask_app.py", EDITED_APP)
    assert saved.status_code == 200, saved.text[:500]
    (app_pk,) = hub(registry, cluster, "select id from webapps_webapp")
    page = hub(session.get, f"{cluster.dashboard_url}/web/{app_pk}/", timeout=30)
    reloaded = hub(
        session.post,
        f"{cluster.dashboard_url}/web/{app_pk}/reload/",
        data={"csrfmiddlewaretoken": csrf_from(session, page)},
        allow_redirects=False,
        timeout=60,
    )
    assert reloaded.status_code in (200, 302), reloaded.text[:500]
    assert "served by the web server" in hub(site_text, USERNAME)

    # A plan change: the quota task (default queue, on dash) reaches the file server's agent.
    cluster.manage(
        "dash",
        "shell",
        "-c",
        "from accounts.models import Plan, User; from accounts.services import plan_change; "
        f"plan_change(user=User.objects.get(username='{USERNAME}'),"
        " plan=Plan.objects.get(slug='hacker'))",
    )
    (disk_bytes,) = hub(
        registry, cluster, "select disk_bytes from accounts_plan where slug = 'hacker'"
    )
    limits = cluster.node_dir("file") / "state" / "limits.log"

    def quota_applied():
        return limits.exists() and re.search(rf"^{uid} \d+ {disk_bytes}$", limits.read_text(), re.M)

    wait_until(quota_applied, lambda: cluster.log("worker-dash"))


USER_SERVER = (
    "select s.hostname from accounts_user u join servers_server s on s.id = u.{column}"
    " where u.username = %s"
)


def site_text(username: str) -> str:
    response = requests.get(
        "http://10.77.0.11:8080/", headers={"Host": f"{username}.localhost"}, timeout=30
    )
    assert response.status_code == 200, response.text[:500]
    return response.text


def wait_until(condition, explain, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, explain()
        time.sleep(0.2)


def confirmations(cluster, username: str) -> str:
    """The dashboard's log from the mail to ``username`` on (the console mail backend)."""
    log = cluster.log("asgi")
    start = log.rfind(f"To: {username}@example.com")
    return log[start:] if start >= 0 else ""
