"""Attacks on the dashboard itself (the ASGI server the Procfile runs, Django, allauth)."""

import select
import socket
import time
from pathlib import Path

import pytest

from tests.consoles.conftest import session_cookie
from tests.factories import person
from tests.live import LiveServer

pytestmark = [
    pytest.mark.root,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

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
