"""HTTPS for users' sites through the real nginx: certificates per SNI name, the operator's
wildcard, Force HTTPS and HSTS, refused certificates rolled back, ACME challenge files."""

from __future__ import annotations

import os
import socket
import ssl
import stat

import pytest

from execution_agent.client import AgentError
from execution_agent.testing.web import WebFrontProcesses, app_settings, http_get
from tests.certs import TestCA, https_get, names_of

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def web(harness):
    front = WebFrontProcesses(harness.env(), harness.web_dir, harness.web_port).start()
    yield front
    front.stop()


@pytest.fixture(scope="module")
def ca():
    return TestCA()


def with_certificate(user: dict, ca: TestCA, *, domain: str | None = None, **tls) -> dict:
    domain = domain or f"{user['username']}.localhost"
    leaf = ca.leaf(domain)
    app = app_settings(user, domain=domain)
    app["wsgi_template"] = None
    app["tls"] = {"certificate": ca.chain_pem(leaf), "key": leaf.key_pem, **tls}
    return app


def cert_files(harness, domain: str) -> list[str]:
    directory = harness.web_dir / "nginx" / "certs" / domain.replace(".", "_")
    return sorted(os.listdir(directory)) if directory.exists() else []


def test_each_site_is_served_over_https_with_its_own_certificate(harness, web, ca, alice, bob):
    client = harness.client(timeout=60)
    for user in (alice, bob):
        assert client.web_reload(user=user, app=with_certificate(user, ca))["ok"]
    for user in (alice, bob):
        host = f"{user['username']}.localhost"
        answer = https_get(harness.web_https_port, host, cadata=ca.root_pem)
        assert answer.status == 200 and b"Hello, World!" in answer.body
        assert names_of(answer.certificate) == [host]
        assert answer.protocol in ("TLSv1.2", "TLSv1.3")
    # HTTP/2 is offered to clients that ask for it.
    host = f"{alice['username']}.localhost"
    assert https_get(harness.web_https_port, host, cadata=ca.root_pem, alpn=("h2",)).alpn == "h2"


def test_a_name_without_a_certificate_gets_no_handshake(harness, web, ca, alice):
    client = harness.client(timeout=60)
    assert client.web_reload(user=alice, app=app_settings(alice))["ok"]  # HTTP only
    with pytest.raises(ssl.SSLError):
        https_get(harness.web_https_port, f"{alice['username']}.localhost", cadata=ca.root_pem)
    with pytest.raises(ssl.SSLError):
        https_get(harness.web_https_port, "nobody.example.org", cadata=ca.root_pem)


def test_tls_1_1_is_refused(harness, web, ca, alice):
    client = harness.client(timeout=60)
    assert client.web_reload(user=alice, app=with_certificate(alice, ca))["ok"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca.root_pem)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    raw = socket.create_connection(("127.0.0.1", harness.web_https_port))
    with raw, pytest.raises(ssl.SSLError):
        context.wrap_socket(raw, server_hostname=f"{alice['username']}.localhost")


def test_the_platform_domain_uses_the_operators_wildcard_certificate(
    harness, web, wildcard_tls, alice
):
    operator_ca, wildcard, _, _ = wildcard_tls
    client = harness.client(timeout=60)
    domain = f"{alice['username']}.sites.test"
    app = app_settings(alice, domain=domain, wsgi_template=None, tls={"wildcard": True})
    result = client.web_reload(user=alice, app=app)
    assert result["ok"] and result["https"]
    answer = https_get(harness.web_https_port, domain, cadata=operator_ca.root_pem)
    assert answer.status == 200
    assert answer.certificate.serial_number == wildcard.cert.serial_number
    assert client.web_info()["wildcard_certificate"] is True


def test_force_https_redirects_to_the_https_port_and_hsts_is_sent_over_https_only(
    harness, web, ca, alice
):
    client = harness.client(timeout=60)
    app = with_certificate(alice, ca, hsts_max_age=31536000)
    app["force_https"] = True
    assert client.web_reload(user=alice, app=app)["ok"]
    host = f"{alice['username']}.localhost"
    status, headers, _ = http_get(harness.web_port, host, "/page?x=1")
    assert status == 301
    assert headers["location"] == f"https://{host}:{harness.web_https_port}/page?x=1"
    assert "strict-transport-security" not in headers
    answer = https_get(harness.web_https_port, host, cadata=ca.root_pem)
    assert answer.status == 200
    assert answer.headers["strict-transport-security"] == "max-age=31536000"


def test_a_key_that_does_not_match_is_refused_and_the_site_keeps_its_certificate(
    harness, web, ca, alice
):
    client = harness.client(timeout=60)
    good = with_certificate(alice, ca)
    assert client.web_reload(user=alice, app=good)["ok"]
    host = f"{alice['username']}.localhost"
    before = https_get(harness.web_https_port, host, cadata=ca.root_pem).certificate
    files = cert_files(harness, host)
    bad = with_certificate(alice, ca)
    bad["tls"]["key"] = ca.leaf(host).key_pem  # another leaf's key
    with pytest.raises(AgentError, match="nginx rejected"):
        client.web_apply(user=alice, app=bad)
    after = https_get(harness.web_https_port, host, cadata=ca.root_pem).certificate
    assert after.serial_number == before.serial_number
    assert cert_files(harness, host) == files  # the refused pair is gone, the live one stays


def test_a_new_certificate_replaces_the_old_files(harness, web, ca, alice):
    client = harness.client(timeout=60)
    host = f"{alice['username']}.localhost"
    assert client.web_apply(user=alice, app=with_certificate(alice, ca))["site_changed"]
    assert client.web_apply(user=alice, app=with_certificate(alice, ca))["site_changed"]
    files = cert_files(harness, host)
    assert len(files) == 2  # one .crt and one .key: the first pair was removed
    directory = harness.web_dir / "nginx" / "certs" / host.replace(".", "_")
    for name in files:
        st = os.stat(directory / name)
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory.parent).st_mode) == 0o700
    ticket_key = os.stat(harness.web_dir / "nginx" / "ticket.key")
    assert ticket_key.st_uid == 0 and stat.S_IMODE(ticket_key.st_mode) == 0o600
    client.web_remove(user=alice, domain=host)
    assert not directory.exists()


def test_text_that_is_not_pem_is_refused_before_anything_is_written(harness, web, alice):
    client = harness.client(timeout=60)
    app = app_settings(alice, tls={"certificate": "ssl_certificate /etc/shadow;\n", "key": "x"})
    with pytest.raises(AgentError, match=r"args\.app\.tls\.certificate"):
        client.web_apply(user=alice, app=app)


def test_acme_challenges_are_answered_over_http_even_with_force_https(harness, web, ca, alice):
    client = harness.client(timeout=60)
    app = with_certificate(alice, ca)
    app["force_https"] = True
    app["auth"] = {"username": "boss", "password_hash": "{SSHA}" + "A" * 28}
    assert client.web_reload(user=alice, app=app)["ok"]
    host = f"{alice['username']}.localhost"
    token = "tok_" + "a" * 40
    answer = f"{token}.{'b' * 43}"
    client.web_acme_challenge_set(domain=host, token=token, key_authorization=answer)
    status, _, body = http_get(harness.web_port, host, f"/.well-known/acme-challenge/{token}")
    assert (status, body) == (200, answer.encode())
    assert client.web_acme_challenge_clear(domain=host, token=token)["removed"]
    assert http_get(harness.web_port, host, f"/.well-known/acme-challenge/{token}")[0] == 404
    with pytest.raises(AgentError, match=r"args\.token"):
        client.web_acme_challenge_set(domain=host, token="../../etc", key_authorization=answer)
