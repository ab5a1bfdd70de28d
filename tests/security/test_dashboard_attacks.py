"""Attacks on the dashboard itself (the ASGI server the Procfile runs, Django, allauth)."""

import select
import socket
import time
from pathlib import Path

import pytest
import requests
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from tests.consoles.conftest import session_cookie
from tests.factories import DEFAULT_PASSWORD, UserFactory, person
from tests.live import LiveServer
from tests.totp import totp_code

pytestmark = pytest.mark.django_db

KIB, MIB, GIB = 1024, 1024 * 1024, 1024 * 1024 * 1024


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def chars_written(pid: int) -> int:
    """Bytes the process has passed to write() and friends: files, pipes and sockets."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no wchar for {pid}")


def gigabyte(chunk: int = MIB):
    """A 1 GiB multipart upload, made as it is sent, never held whole (here or anywhere)."""
    yield (
        b'--x\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    block = b"\0" * chunk
    for _ in range(GIB // chunk):
        yield block
    yield b"\r\n--x--\r\n"


def attack(port: int, path: str, cookie: str, *, chunked: bool) -> tuple[bytes, int]:
    """POST the gigabyte as a hostile client would; stop sending once the server answers.

    Returns the server's answer and how many body bytes were sent before it came."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {GIB + 200}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Cookie: {cookie}\r\nAccept: application/json\r\n\r\n"
    )
    sock.sendall(head.encode())
    sent = 0
    try:
        for piece in gigabyte():
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered: a real attacker gains nothing by going on
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    except TimeoutError:
        pytest.fail(f"the server stopped reading after {sent} bytes without answering")
    answer = b""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        answer += data
    sock.close()
    return answer, sent


@pytest.fixture
def server(tmp_path, provisioned):
    # A small upload limit, so the chunked case reaches it quickly; a temporary directory of
    # the server's own, to see that nothing was spooled there.
    temp = tmp_path / "server-tmp"
    temp.mkdir()
    live = LiveServer(tmp_path, {"WARREN_UPLOAD_MAX_BYTES": str(MIB), "TMPDIR": str(temp)})
    live.temp = temp
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.root
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
def test_gigabyte_upload_cannot_exhaust_the_dashboards_memory(
    server, provisioned, exec_agent, logged_in, chunked
):
    """Before: daphne buffered the whole 1 GiB body, then queued every chunk for Django, which
    read it all before the login check or the size limit ran: 14.7 GB peak, and a few parallel
    uploads took the machine down. Now the answer comes on the headers (login, Content-Length)
    or at the limit (chunked), and what is not read stays in the kernel's socket buffers."""
    alice = provisioned(person("alice"))
    home = exec_agent.homes / alice.username
    cookie = session_cookie(alice).decode() if logged_in else "sessionid=none"
    pid = server.process.pid
    # Warm up (imports, first queries), then measure from there.
    assert attack(server.port, "/files/upload/home/alice/", "", chunked=False)[0]
    idle_kib = memory_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    written = chars_written(pid)
    before = sorted(home.rglob("*")), sorted(server.temp.rglob("*"))
    started = time.monotonic()

    answer, sent = attack(
        server.port, f"/files/upload/home/{alice.username}/", cookie, chunked=chunked
    )

    status = int(answer.split(b" ", 2)[1])
    assert status == (413 if logged_in else 302), answer[:300]
    if not logged_in:
        assert b"location: /accounts/login/?next=/files/upload/" in answer.lower()
    else:
        assert b"larger than 2 MiB" in answer, answer[-300:]
    peak_above_idle = (memory_kib(pid, "VmHWM") - idle_kib) * KIB
    assert peak_above_idle < 100 * MIB, f"peak {peak_above_idle / MIB:.0f} MiB above idle"
    # Refused on the headers, or at the 2 MiB limit: what was sent beyond that sat in the
    # kernel's socket buffers (a few MiB on loopback) until the answer came.
    assert sent < 32 * MIB, sent
    assert time.monotonic() - started < 20
    # Nothing written: no file in the home or the server's temporary directory, and the
    # server wrote (files, logs, the answer) far less than a spooled body would take.
    assert (sorted(home.rglob("*")), sorted(server.temp.rglob("*"))) == before
    assert chars_written(pid) - written < MIB
    assert server.process.poll() is None


@pytest.mark.root
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_gigabyte_post_to_the_public_login_page_is_cut_at_64_kib(server, chunked):
    """The login page takes anonymous bodies: without a cap of their own, the same gigabyte
    sent there would have been read whole before the form was even looked at."""
    pid = server.process.pid
    written = chars_written(pid)
    answer, sent = attack(server.port, reverse("account_login"), "", chunked=chunked)
    assert int(answer.split(b" ", 2)[1]) == 413, answer[:300]
    assert b"larger than 64 KiB" in answer
    assert sent < 32 * MIB and chars_written(pid) - written < MIB


@pytest.fixture
def fresh_rate_limits(settings, request):
    # A key space of its own per test: rate-limit counters from other tests must not count.
    caches = {alias: dict(config) for alias, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = (
        f"{caches['default'].get('KEY_PREFIX', '')}-{request.node.name}"
    )
    settings.CACHES = caches


@pytest.fixture
def operator_with_totp(db):
    operator = UserFactory(username="operator1", is_staff=True, is_superuser=True)
    secret = generate_totp_secret()
    TOTP.activate(operator, secret)
    operator.totp_secret = secret
    return operator


def admin_reached(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_admin_login_form_cannot_skip_the_second_factor(fresh_rate_limits, operator_with_totp):
    """Before: /admin/login/ was Django's own form, so a stolen staff password alone opened the
    admin (every user's account, servers, limits) without the operator's TOTP code."""
    client = Client()
    # Django's admin form, posted as it used to be: nobody is logged in.
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "operator1", "password": DEFAULT_PASSWORD, "next": "/admin/"},
    )
    assert "_auth_user_id" not in client.session
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert not admin_reached(client)
    # allauth's login, where the admin now sends staff: the password leads to the code prompt.
    response = client.post(
        reverse("account_login"), {"login": "operator1", "password": DEFAULT_PASSWORD}
    )
    assert response.url == reverse("mfa_authenticate")
    assert not admin_reached(client)
    # With the code, the operator gets in.
    code = totp_code(operator_with_totp.totp_secret)
    client.post(reverse("mfa_authenticate"), {"code": code})
    assert admin_reached(client)


def test_admin_password_guessing_is_stopped_at_the_eleventh_try(
    fresh_rate_limits, operator_with_totp
):
    """Before: the admin's login took unlimited guesses; now it is allauth's, limited per IP
    (10 a minute) and per account, so the right password on the 11th try is refused too."""
    client = Client()
    login = client.get("/admin/login/?next=/admin/")
    assert login.status_code == 302
    for guess in range(10):
        # Spread over accounts, as a sprayer does, so only the per-IP limit counts.
        response = client.post(login.url, {"login": f"staff{guess}", "password": f"guess-{guess}"})
        assert response.status_code == 200
        assert b"Too many failed login attempts" not in response.content
    response = client.post(login.url, {"login": "operator1", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session and not admin_reached(client)


class LoginClient:
    """A browser on the login page of a live server, behind whatever X-Forwarded-For it says."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.http = requests.Session()

    def log_in(self, login: str, password: str, *, forwarded_for: str = "") -> requests.Response:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        url = f"{self.server.url}{reverse('account_login')}"
        self.http.get(url, headers=headers, timeout=10)
        data = {"login": login, "password": password}
        data["csrfmiddlewaretoken"] = self.http.cookies["csrftoken"]
        return self.http.post(url, data=data, headers=headers, allow_redirects=False, timeout=10)


def refused(response: requests.Response) -> bool:
    return response.status_code == 200 and "Too many failed login attempts" in response.text


def spray(client: LoginClient, forwarded_for) -> None:
    """Ten wrong passwords, each for another account, so that only the per-IP limit counts."""
    for guess in range(10):
        response = client.log_in(f"user{guess}", "wrong", forwarded_for=forwarded_for(guess))
        assert response.status_code == 200 and not refused(response), guess


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_visitors_behind_a_trusted_proxy_are_rate_limited_separately(tmp_path):
    """Before: behind nginx every visitor was the proxy's address, so one password sprayer
    locked everyone out of logging in (or every visitor shared the sprayer's allowance)."""
    alice = UserFactory(username="alice")
    server = LiveServer(tmp_path, {"WARREN_TRUSTED_PROXIES": "127.0.0.1/32"})
    try:
        sprayer, visitor = LoginClient(server), LoginClient(server)
        spray(sprayer, lambda guess: "203.0.113.7")
        assert refused(sprayer.log_in("alice", DEFAULT_PASSWORD, forwarded_for="203.0.113.7"))
        # Another visitor through the same proxy still logs in.
        response = visitor.log_in(alice.username, DEFAULT_PASSWORD, forwarded_for="198.51.100.2")
        assert response.status_code == 302, response.text[-500:]
        # What the sprayer writes to the left of the proxy's entry is not believed either.
        spoofed = "192.0.2.99, 203.0.113.7"
        assert refused(sprayer.log_in("alice", DEFAULT_PASSWORD, forwarded_for=spoofed))
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_spoofed_forwarded_for_from_an_untrusted_peer_does_not_reset_the_login_limit(tmp_path):
    """A console on the same machine reaches the dashboard's port directly: had Warren (or the
    ASGI server, as uvicorn does by default for 127.0.0.1) believed its X-Forwarded-For, a new
    made-up address per guess would have given it unlimited password guesses."""
    UserFactory(username="alice")
    server = LiveServer(tmp_path, {"WARREN_TRUSTED_PROXIES": "10.9.8.7/32"})
    try:
        attacker = LoginClient(server)
        spray(attacker, lambda guess: f"198.51.100.{guess + 1}")
        response = attacker.log_in("alice", DEFAULT_PASSWORD, forwarded_for="198.51.100.200")
        assert refused(response)
    finally:
        server.stop()
