"""The API through the real ASGI stack (uvicorn, the body guard), driven by the `warren`
command in a subprocess and by schemathesis over the whole schema."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from consoles.models import Console
from tests.api.conftest import token_for, warren
from tests.factories import person
from tests.live import LiveServer

pytestmark = [
    pytest.mark.root,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

FAST = {"WARREN_API_RATE_LIMIT_PER_MINUTE": "100000"}


@pytest.fixture
def alice(provisioned):
    return provisioned(person("alice"))


@pytest.fixture
def server(tmp_path):
    live = LiveServer(tmp_path, extra_env=FAST)
    yield live
    live.stop()


def test_the_warren_command_drives_files_consoles_and_tasks(alice, server, tmp_path, exec_agent):
    token = token_for(alice)
    assert warren(server, token, "whoami").stdout.strip() == "alice"

    local = tmp_path / "hello.py"
    local.write_text("print('hello from the cli')\n")
    put = warren(server, token, "files", "put", str(local), "/home/alice/hello.py")
    assert put.returncode == 0, put.stderr
    assert (exec_agent.homes / "alice" / "hello.py").read_text() == local.read_text()
    got = warren(server, token, "files", "get", "/home/alice/hello.py")
    assert got.stdout == local.read_text()
    tree = warren(server, token, "--json", "files", "tree")
    assert "/home/alice/hello.py" in json.loads(tree.stdout)["entries"]

    headers = {"Authorization": f"Token {token}"}
    console = requests.post(
        f"{server.url}/api/v1/user/alice/consoles/",
        json={"kind": "bash"},
        headers=headers,
        timeout=30,
    ).json()
    sent = warren(server, token, "console", "send-input", console["id"], "python3 hello.py")
    assert sent.returncode == 0, sent.stderr
    for _ in range(100):
        output = warren(server, token, "console", "output", console["id"]).stdout
        if "hello from the cli\n" in output:
            break
    assert "hello from the cli" in output

    listed = warren(server, token, "--json", "tasks", "list")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    requests.post(
        f"{server.url}/api/v1/user/alice/schedule/",
        json={"command": "python3 hello.py", "interval": "daily", "hour": 4, "minute": 5},
        headers=headers,
        timeout=30,
    )
    assert "daily 04:05 UTC\tpython3 hello.py" in warren(server, token, "tasks", "list").stdout

    assert warren(server, token, "files", "rm", "/home/alice/hello.py").returncode == 0
    assert not (exec_agent.homes / "alice" / "hello.py").exists()


def test_the_warren_command_reloads_a_web_app(alice, web, tmp_path):
    server = LiveServer(tmp_path, extra_env=FAST)
    try:
        token = token_for(alice)
        created = requests.post(
            f"{server.url}/api/v1/user/alice/webapps/",
            json={"framework": "flask", "python_version": "3.11"},
            headers={"Authorization": f"Token {token}"},
            timeout=60,
        )
        assert created.status_code == 201, created.text
        reloaded = warren(server, token, "webapp", "reload", "alice.localhost")
        assert reloaded.returncode == 0, reloaded.stderr
        assert reloaded.stdout.startswith("alice.localhost: ")
        missing = warren(server, token, "webapp", "reload", "nope.localhost")
        assert missing.returncode == 1 and "(HTTP 404)" in missing.stderr
    finally:
        server.stop()


def test_the_warren_command_explains_what_is_wrong(alice, server, tmp_path):
    no_url = warren(None, "wrn_x", "tasks", "list")
    assert no_url.returncode == 2 and "WARREN_URL" in no_url.stderr
    no_token = warren(server, None, "tasks", "list")
    assert no_token.returncode == 2 and "Account tab" in no_token.stderr
    bad_token = warren(server, "wrn_" + "x" * 43, "tasks", "list")
    assert bad_token.returncode == 1
    assert "not valid" in bad_token.stderr and "(HTTP 401)" in bad_token.stderr
    nobody = warren(requests_server_down(), "wrn_x", "tasks", "list")
    assert nobody.returncode == 1 and "Cannot reach" in nobody.stderr
    traversal = warren(server, token_for(alice), "files", "get", "/home/alice/../../etc/passwd")
    assert traversal.returncode == 1 and "root:" not in traversal.stdout
    # A config file does as well as the environment.
    config = tmp_path / "config"
    config.write_text(f"[warren]\nurl = {server.url}\ntoken = {token_for(alice)}\n")
    from_file = warren(None, None, "whoami", env={"WARREN_CONFIG": str(config)})
    assert from_file.stdout.strip() == "alice", from_file.stderr


def requests_server_down():
    class Down:
        url = "http://127.0.0.1:9"  # discard: nothing listens

    return Down()


def test_bodies_are_refused_by_size_before_they_are_read(alice, server, exec_agent):
    token = token_for(alice)
    url = f"{server.url}/api/v1/user/alice/files/path/home/alice/big.txt"
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/octet-stream"}
    # Over the anonymous limit (64 KiB) but within the API's: a token earns the API's limit.
    medium = requests.post(url, data=b"x" * 200_000, headers=headers, timeout=30)
    assert medium.status_code == 200, medium.text
    assert (exec_agent.homes / "alice" / "big.txt").stat().st_size == 200_000
    huge = requests.post(url, data=b"y" * (8 * 1024 * 1024), headers=headers, timeout=30)
    assert huge.status_code == 413
    assert huge.json()["error"] == "too_large"
    assert (exec_agent.homes / "alice" / "big.txt").stat().st_size == 200_000
    # Without a valid token, the anonymous limit applies (and nothing is written anyway).
    forged = {**headers, "Authorization": "Token wrn_" + "z" * 43}
    refused = requests.post(url, data=b"z" * 200_000, headers=forged, timeout=30)
    assert refused.status_code == 413


def test_the_docs_page_loads_its_swagger_ui_from_the_package(server):
    page = requests.get(f"{server.url}/api/docs/", timeout=10)
    assert page.status_code == 200
    script = requests.get(f"{server.url}/static/ninja/swagger-ui-bundle.js", timeout=10)
    assert script.status_code == 200 and len(script.content) > 100_000


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(alice, server, tmp_path):
    """Every operation of the schema, with generated input, as alice with her real token:
    no 5xx, and every response's status, content type and body as the schema says."""
    token = token_for(alice)
    headers = {"Authorization": f"Token {token}"}
    base = f"{server.url}/api/v1/user/alice/"
    console = requests.post(
        base + "consoles/", json={"kind": "bash"}, headers=headers, timeout=30
    ).json()
    task = requests.post(
        base + "schedule/",
        json={"command": "true", "interval": "daily", "hour": 1, "minute": 1},
        headers=headers,
        timeout=30,
    ).json()
    # Read from the working directory: every {username} is alice's, and two ids are of her
    # real console and task, so the run reaches past the 404s into her things.
    Path(tmp_path / "schemathesis.toml").write_text(
        "[parameters]\n"
        '"path.username" = "alice"\n'
        f'"path.console_id" = "{console["id"]}"\n'
        f'"path.task_id" = {task["id"]}\n'
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{server.url}/api/schema/",
            "--header",
            f"Authorization: Token {token}",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "8",
            "--workers",
            "1",
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    operations = sum(
        len(methods)
        for methods in requests.get(f"{server.url}/api/schema/", timeout=10)
        .json()["paths"]
        .values()
    )
    assert f"Tested: {operations}\n" in result.stdout, result.stdout[-3000:]
    # Consoles it started are alice's, within her plan: none of anyone else's.
    assert set(Console.objects.values_list("owner__username", flat=True)) <= {"alice"}
