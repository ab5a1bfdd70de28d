"""Consoles through the API, on the real execution agent: start, type, read, share, kill."""

import time

import pytest

from consoles.models import Console, Share
from tests.api.conftest import ApiClient, token_for
from tests.factories import person

pytestmark = pytest.mark.root


@pytest.fixture
def alice(db, provisioned):
    return provisioned(person("alice"))


@pytest.fixture
def bob(db, provisioned):
    return provisioned(person("bob"))


@pytest.fixture
def mallory(db, provisioned):
    return provisioned(person("mallory"))


def output_until(api: ApiClient, console_id: str, marker: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"consoles/{console_id}/get_latest_output/")
        assert response.status_code == 200, response.content
        output = response.json()["output"]
        if marker in output or time.monotonic() > deadline:
            return output
        time.sleep(0.1)


def test_a_script_starts_a_console_types_into_it_reads_it_and_kills_it(alice):
    api = ApiClient(token_for(alice), "alice")
    created = api.post("consoles/", '{"kind": "bash"}')
    assert created.status_code == 201, created.content
    console_id = created.json()["id"]
    assert [c["id"] for c in api.get("consoles/").json()] == [console_id]

    sent = api.post(f"consoles/{console_id}/send_input/", '{"input": "echo $((6 * 7))xyz\\n"}')
    assert sent.status_code == 200, sent.content
    assert "42xyz" in output_until(api, console_id, "42xyz")

    assert api.delete(f"consoles/{console_id}/").status_code == 200
    assert not Console.objects.filter(pk=console_id).exists()
    assert api.get(f"consoles/{console_id}/").status_code == 404


def test_an_outsider_gets_404_for_every_console_url(alice, mallory):
    alice_api = ApiClient(token_for(alice), "alice")
    console_id = alice_api.post("consoles/", '{"kind": "bash"}').json()["id"]
    outsider = ApiClient(token_for(mallory), "alice")
    assert outsider.get("consoles/").status_code == 404
    assert outsider.get(f"consoles/{console_id}/").status_code == 404
    assert outsider.get(f"consoles/{console_id}/get_latest_output/").status_code == 404
    sent = outsider.post(f"consoles/{console_id}/send_input/", '{"input": "touch /tmp/pwned\\n"}')
    assert sent.status_code == 404
    assert outsider.delete(f"consoles/{console_id}/").status_code == 404
    assert outsider.get("consoles/shared_with_you/").status_code == 404
    # Nor through their own list: the console is not theirs and not shared with them.
    own = ApiClient(outsider.token, "mallory")
    assert own.get(f"consoles/{console_id}/").status_code == 404
    assert own.post("consoles/", '{"kind": "bash"}', HTTP_X=1).status_code == 201
    assert Console.objects.filter(pk=console_id).exists()
    assert outsider.post("consoles/", '{"kind": "bash"}').status_code == 404


def test_a_read_only_sharee_reads_but_cannot_type_or_kill(alice, bob):
    alice_api = ApiClient(token_for(alice), "alice")
    console = alice_api.post("consoles/", '{"kind": "bash"}').json()
    Share.objects.create(console_id=console["id"], user=bob, read_only=True)
    bob_api = ApiClient(token_for(bob), "bob")
    shared = bob_api.get("consoles/shared_with_you/").json()
    assert [(c["id"], c["owner"], c["read_only"]) for c in shared] == [
        (console["id"], "alice", True)
    ]
    assert bob_api.get(f"consoles/{console['id']}/get_latest_output/").status_code == 200
    typed = bob_api.post(f"consoles/{console['id']}/send_input/", '{"input": "x"}')
    assert typed.status_code == 403
    assert bob_api.delete(f"consoles/{console['id']}/").status_code == 404


def test_a_read_write_sharee_types_into_the_console(alice, bob):
    alice_api = ApiClient(token_for(alice), "alice")
    console_id = alice_api.post("consoles/", '{"kind": "bash"}').json()["id"]
    Share.objects.create(console_id=console_id, user=bob, read_only=False)
    bob_api = ApiClient(token_for(bob), "bob")
    typed = bob_api.post(f"consoles/{console_id}/send_input/", '{"input": "echo bob$((1+1))\\n"}')
    assert typed.status_code == 200
    assert "bob2" in output_until(alice_api, console_id, "bob2")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ('{"input": ""}', 400),
        ('{"input": 5}', 400),
        ("{}", 400),
        ('{"kind": "rm -rf"}', 400),
        ('{"kind": "custom"}', 400),
        ('{"kind": "python", "python_version": "1.0"}', 400),
    ],
)
def test_bad_input_to_consoles_is_refused(alice, body, status):
    api = ApiClient(token_for(alice), "alice")
    console_id = api.post("consoles/", '{"kind": "bash"}').json()["id"]
    path = "consoles/" if "kind" in body else f"consoles/{console_id}/send_input/"
    response = api.post(path, body)
    assert response.status_code == status, response.content
    assert Console.objects.filter(owner=alice).count() == 1


def test_input_over_the_agents_limit_is_400(alice):
    api = ApiClient(token_for(alice), "alice")
    console_id = api.post("consoles/", '{"kind": "bash"}').json()["id"]
    response = api.post(f"consoles/{console_id}/send_input/", '{"input": "' + "x" * 5000 + '"}')
    assert response.status_code == 400


def test_a_console_has_the_users_token_as_api_token_only_if_they_opted_in(alice):
    from api.selectors import sandbox_env_for
    from api.services import api_sandbox_token_set

    api = ApiClient(token_for(alice), "alice")
    before = api.post("consoles/", '{"kind": "bash"}').json()["id"]
    api.post(f"consoles/{before}/send_input/", '{"input": "echo [${API_TOKEN:-none}]\\n"}')
    assert "[none]" in output_until(api, before, "[none]")

    api_sandbox_token_set(user=alice, enabled=True)
    after = api.post("consoles/", '{"kind": "bash"}').json()["id"]
    api.post(f"consoles/{after}/send_input/", '{"input": "echo [$API_TOKEN] [$WARREN_URL]\\n"}')
    token = sandbox_env_for(alice)["API_TOKEN"]
    output = output_until(api, after, f"[{token}]")
    assert f"[{token}]" in output and "[http" in output
    # It is a token like any other: the console's scripts reach the API with it.
    assert ApiClient(token, "alice").get("consoles/").status_code == 200
