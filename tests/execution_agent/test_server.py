"""The agent's front door: who may connect, what a well-formed request is, and its log."""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import subprocess
import time

import pytest

from execution_agent.client import AgentError

pytestmark = pytest.mark.root

RAW_CALL = r"""
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(json.dumps({"connect_error": exc.errno})); raise SystemExit
body = json.dumps({"v": 1, "op": "info", "args": {}}).encode()
try:
    s.sendall(struct.pack(">I", len(body)) + body)
except BrokenPipeError:
    pass  # a refused peer is answered before its request is read
data = b""
while chunk := s.recv(65536):
    data += chunk
print(data[4:].decode())
"""


def call_as(harness, uid: int, groups: list[int]) -> dict:
    """Call `info` from a process running as uid (with supplementary groups)."""
    result = subprocess.run(
        ["/usr/bin/python3", "-c", RAW_CALL, str(harness.socket_path)],
        user=uid,
        group=uid,
        extra_groups=groups,
        capture_output=True,
        text=True,
        timeout=10,
        cwd="/",
    )
    return json.loads(result.stdout)


def raw_exchange(harness, payload: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(10)
        connection.connect(str(harness.socket_path))
        connection.sendall(payload)
        connection.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    (length,) = struct.unpack(">I", data[:4])
    assert len(data) == 4 + length
    return json.loads(data[4:])


def frame(message) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def test_socket_is_only_reachable_by_root_and_its_group(harness, socket_gid):
    st = os.stat(harness.socket_path)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert (st.st_uid, st.st_gid) == (0, socket_gid)


def test_allowed_service_uid_in_the_socket_group_is_served(harness, django_uid, socket_gid):
    response = call_as(harness, django_uid, [socket_gid])
    assert response["ok"] is True
    assert response["result"]["version"] == 1


def test_other_uid_cannot_even_connect_without_the_group(harness, uid_base):
    response = call_as(harness, uid_base + 9_500, [])
    assert response == {"connect_error": 13}  # EACCES


def test_other_uid_in_the_group_is_refused_by_peer_credentials(harness, uid_base, socket_gid):
    response = call_as(harness, uid_base + 9_500, [socket_gid])
    assert response["ok"] is False
    assert response["error"]["code"] == "forbidden"
    assert "peer uid" in response["error"]["message"]
    assert "outcome=forbidden reason=peer-not-allowed" in harness.log()


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        (struct.pack(">I", 2 << 20) + b"{}", "bad_request", "exceeds"),
        (struct.pack(">I", 8) + b"not json", "bad_request", "JSON"),
        (struct.pack(">I", 4) + b"\xff\xfe{}", "bad_request", "UTF-8"),
        (frame([1, 2]), "bad_request", "object"),
        (frame({"op": "info"}), "bad_request", "v: required"),
        (frame({"v": 2, "op": "info"}), "unsupported_version", "version 1"),
        (frame({"v": True, "op": "info"}), "unsupported_version", "version 1"),
        (frame({"v": 1, "op": "format_disk"}), "unknown_op", "format_disk"),
        (frame({"v": 1, "op": 7}), "bad_request", "op"),
        (frame({"v": 1, "op": "info", "extra": 1}), "bad_request", "extra"),
        (frame({"v": 1, "op": "info", "args": []}), "bad_request", "args"),
        (frame({"v": 1, "op": "info", "args": {"x": 1}}), "bad_request", "args.x"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(harness, payload, code, words):
    response = raw_exchange(harness, payload)
    assert response["ok"] is False
    assert response["error"]["code"] == code
    assert words in response["error"]["message"]
    assert "Traceback" not in response["error"]["message"]


def test_a_truncated_frame_does_not_hurt_the_agent(harness, client):
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(str(harness.socket_path))
        connection.sendall(struct.pack(">I", 100) + b'{"v": 1')
    assert client.info()["version"] == 1


@pytest.mark.parametrize(
    ("user", "code", "words"),
    [
        ({"uid": 0, "username": "rooty"}, "forbidden", "below the Warren uid base"),
        ({"uid": 1000, "username": "someone"}, "forbidden", "below the Warren uid base"),
        ({"uid": "x", "username": "someone"}, "bad_request", "args.user.uid"),
        ({"uid": True, "username": "someone"}, "bad_request", "args.user.uid"),
        ({"username": "someone"}, "bad_request", "args.user"),
        ("someone", "bad_request", "args.user"),
    ],
)
def test_bad_user_identities_are_refused(client, user, code, words):
    with pytest.raises(AgentError) as error:
        client.call("processes", user=user)
    assert error.value.code == code
    assert words in error.value.message


@pytest.mark.parametrize("username", ["Root", "ab", "1abc", "a" * 31, "al_ice", "al/ice", "../x"])
def test_invalid_usernames_are_refused(client, uid_base, username):
    with pytest.raises(AgentError) as error:
        client.call("processes", user={"uid": uid_base + 5, "username": username})
    assert error.value.code == "bad_request"
    assert "args.user.username" in error.value.message


def test_a_home_owned_by_someone_else_is_refused(client, harness, alice, bob):
    impostor = {"uid": bob["uid"], "username": alice["username"]}
    with pytest.raises(AgentError) as error:
        client.run(user=impostor, argv=["true"])
    assert error.value.code == "forbidden"
    assert "owned by uid" in error.value.message


def test_a_missing_home_is_refused(client, uid_base):
    with pytest.raises(AgentError) as error:
        client.run(user={"uid": uid_base + 7777, "username": "nohome"}, argv=["true"])
    assert error.value.code == "forbidden"


def test_every_operation_is_logged_on_one_line(harness, client, alice):
    client.run(user=alice, argv=["true"])
    with pytest.raises(AgentError):
        client.call("no_such_op")
    # The line is written just after the answer is sent: give the agent a moment.
    deadline = time.monotonic() + 5

    # Each connection logs from its own thread, so the two lines may come in either order.
    def both_logged():
        log = harness.log()
        return "op=no_such_op" in log and f"op=run peer_uid=0 uid={alice['uid']}" in log

    while not both_logged() and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = harness.log().splitlines()
    run_line = next(line for line in lines if f"op=run peer_uid=0 uid={alice['uid']}" in line)
    assert f"user={alice['username']} outcome=ok ms=" in run_line
    assert any(
        "op=no_such_op" in line and "outcome=error code=unknown_op" in line for line in lines
    )


def test_info_reports_the_sandbox_state(client):
    info = client.info()
    assert info == {
        **info,
        "version": 1,
        "sandbox": True,
        "cgroups": "v1",
        "root": True,
        "warnings": [],
    }
    assert "3.11" in info["pythons"]
    assert isinstance(info["ipython"], bool)


def test_info_says_which_boot_and_which_start_of_the_agent_this_is(client):
    first, second = client.info(), client.info()
    with open("/proc/sys/kernel/random/boot_id") as handle:
        assert first["boot_id"] == handle.read().strip()
    # Made once when the agent started: the same on every call until it restarts.
    assert len(first["agent_started"]) == 32 and first["agent_started"] == second["agent_started"]
    assert second["boot_id"] == first["boot_id"]
