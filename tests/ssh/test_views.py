"""The Account tab's SSH keys (owner, outsider, free plan, bad input) and the signed lookup."""

import json
import time

import pytest
from django.urls import reverse

from accounts.models import Plan
from fileserver_agent.signing import signature_headers
from ssh.models import SSHKey
from ssh.services import PAID_ONLY, ssh_keys_add
from tests.ssh.keygen import ed25519_line


@pytest.fixture
def paid(user):
    user.plan = Plan.objects.get(slug="hacker")
    user.save(update_fields=["plan"])
    return user


def add(client, text: str):
    return client.post(reverse("ssh:keys_add"), {"keys": text}, follow=True)


def test_owner_adds_a_key_and_sees_its_fingerprint_and_how_to_connect(paid, alice_client):
    page = add(alice_client, ed25519_line("alice@laptop"))
    key = SSHKey.objects.get(user=paid)
    html = page.content.decode()
    assert f"SSH key added: {key.fingerprint}." in html
    assert key.fingerprint in html and "alice@laptop" in html
    assert "ssh -p 2222 warren-ssh@localhost" in html


def test_a_free_plan_is_refused_with_a_message_and_nothing_is_saved(user, alice_client):
    page = add(alice_client, ed25519_line())
    assert PAID_ONLY in page.content.decode()
    assert not SSHKey.objects.exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("ssh-ed25519 not*base64", "Line 1: the key is not valid base64."),
        ("ssh-rsa " + "A" * 5000, "at most 4096 characters"),
        ("x" * (65 * 1024), "more than 64 KiB"),
        ("ssh-dss AAAAB3NzaC1kc3M", "is not accepted"),
    ],
)
def test_malformed_or_huge_keys_are_refused_on_the_form(paid, alice_client, text, message):
    page = add(alice_client, text)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert not SSHKey.objects.exists()


def test_a_bad_second_line_keeps_the_good_first_one_out_too(paid, alice_client):
    add(alice_client, f"{ed25519_line()}\nssh-ed25519 broken!")
    assert not SSHKey.objects.exists()


def test_a_key_on_another_account_is_refused_without_saying_whose(paid, outsider, alice_client):
    line = ed25519_line()
    outsider.plan = paid.plan
    outsider.save(update_fields=["plan"])
    ssh_keys_add(user=outsider, text=line)
    page = add(alice_client, line)
    html = page.content.decode()
    assert "already in use" in html and "mallory" not in html
    assert SSHKey.objects.filter(user=paid).count() == 0


def test_the_number_of_keys_is_capped(paid, alice_client, settings):
    settings.WARREN_SSH_MAX_KEYS = 2
    add(alice_client, f"{ed25519_line()}\n{ed25519_line()}")
    page = add(alice_client, ed25519_line())
    assert "at most 2 SSH keys" in page.content.decode()
    assert SSHKey.objects.count() == 2


def test_owner_deletes_a_key(paid, alice_client):
    (key,) = ssh_keys_add(user=paid, text=ed25519_line())
    page = alice_client.post(reverse("ssh:key_delete", args=[key.pk]), follow=True)
    assert "no longer logs in" in page.content.decode()
    assert not SSHKey.objects.exists()


def test_outsider_cannot_delete_someone_elses_key(paid, outsider_client):
    (key,) = ssh_keys_add(user=paid, text=ed25519_line())
    assert outsider_client.post(reverse("ssh:key_delete", args=[key.pk])).status_code == 404
    assert SSHKey.objects.filter(pk=key.pk).exists()


def test_deleting_takes_post_only(paid, alice_client):
    (key,) = ssh_keys_add(user=paid, text=ed25519_line())
    assert alice_client.get(reverse("ssh:key_delete", args=[key.pk])).status_code == 405


def test_the_free_plans_card_offers_no_form_but_lists_old_keys(paid, alice_client):
    ssh_keys_add(user=paid, text=ed25519_line())
    paid.plan = Plan.objects.get(slug="beginner")
    paid.save(update_fields=["plan"])
    html = alice_client.get(reverse("account")).content.decode()
    assert "SSH access comes with paid plans" in html
    assert 'name="keys"' not in html
    assert SSHKey.objects.get().fingerprint in html  # still there to delete


# --- the gateway's lookup ---------------------------------------------------------------------


@pytest.fixture
def secret(settings):
    settings.WARREN_SSH_SECRETS = ["s" * 40]
    return "s" * 40


def lookup(client, secret: str, body: dict | bytes, timestamp: str | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    path = reverse("ssh:lookup")
    headers = signature_headers(
        secret, "POST", path, raw, timestamp=timestamp or f"{time.time():.3f}"
    )
    return client.post(path, raw, content_type="application/json",
                       headers=headers)  # fmt: skip


def key_question(line: str) -> dict:
    key_type, data = line.split()[:2]
    return {"type": key_type, "key": data}


def test_lookup_names_the_owner_and_their_sandbox_limits(client, paid, secret):
    line = ed25519_line()
    ssh_keys_add(user=paid, text=line)
    answer = lookup(client, secret, key_question(line))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["username"], body["uid"]) == ("alice", paid.uid)
    assert set(body["limits"]) == {"memory_bytes", "pids_max", "tmp_bytes", "cpu_shares"}


def test_lookup_of_a_free_plans_key_gives_the_refusal(client, paid, secret):
    line = ed25519_line()
    ssh_keys_add(user=paid, text=line)
    paid.plan = Plan.objects.get(slug="beginner")
    paid.save(update_fields=["plan"])
    body = lookup(client, secret, key_question(line)).json()
    assert body["refusal"] == PAID_ONLY and "limits" not in body


def test_lookup_of_an_unknown_or_mistyped_key_is_404(client, paid, secret):
    line = ed25519_line()
    ssh_keys_add(user=paid, text=line)
    assert lookup(client, secret, key_question(ed25519_line())).status_code == 404
    assert lookup(client, secret, {**key_question(line), "type": "ssh-rsa"}).status_code == 404


def test_lookup_refuses_a_wrong_signature_and_a_replay(client, paid, secret):
    question = key_question(ed25519_line())
    assert lookup(client, "t" * 40, question).status_code == 403
    stamp = f"{time.time():.3f}"
    assert lookup(client, secret, question, stamp).status_code == 404
    assert lookup(client, secret, question, stamp).status_code == 403  # the same signature again


def test_lookup_refuses_malformed_questions_without_a_500(client, secret):
    assert lookup(client, secret, b"not json").status_code == 400
    assert lookup(client, secret, {"type": 1, "key": []}).status_code == 400
    assert lookup(client, secret, b"x" * (40 * 1024)).status_code == 413
