"""sshd's AuthorizedKeysCommand: ask Warren who owns the offered key, print one line or none.

    authorized-keys <gateway.json> %u %t %k

Runs as ``WARREN_SSH_KEYS_USER`` (it reads the lookup secret). The question goes to Warren's
one narrow endpoint (``ssh.views.lookup``), signed with HMAC the way Django signs its calls to
the fileserver agent (fileserver_agent/signing.py). Every line printed carries ``restrict``
and a forced command, so whatever the key, sshd runs nothing but ssh_gateway/session.py.
Anything unexpected prints nothing: sshd then refuses the key.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import socket
import sys
import time
from urllib.parse import urlsplit

from fileserver_agent.signing import signature_headers
from ssh_gateway.config import GatewayConfig, read_config

KEY_TYPE_RE = re.compile(r"^[a-z0-9@.-]{1,64}$")
KEY_BLOB_RE = re.compile(r"^[A-Za-z0-9+/]{1,16384}={0,2}$")
USERNAME_RE = re.compile(r"^[a-z][a-z0-9-]{2,29}$")
LIMIT_NAMES = ("memory_bytes", "pids_max", "tmp_bytes", "cpu_shares")
TIMEOUT_SECONDS = 10
MAX_ANSWER_BYTES = 64 * 1024


class LookupFailed(Exception):
    """Warren answered something other than a key's owner or "unknown key"."""


def lookup(config: GatewayConfig, key_type: str, key_blob: str) -> dict | None:
    """Warren's answer for this key: the owner (and limits or a refusal); None if unknown."""
    with open(config.secret_file) as handle:
        secret = handle.read().strip()
    body = json.dumps({"type": key_type, "key": key_blob}).encode()
    path = urlsplit(config.lookup_url).path
    headers = signature_headers(secret, "POST", path, body, timestamp=_timestamp())
    status, answer = post(config.lookup_url, body, headers)
    if status == 404:
        return None
    if status != 200:
        raise LookupFailed(f"Warren answered HTTP {status}: {answer[:200]!r}")
    return json.loads(answer)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One HTTP/1.0 POST; (status, body). By hand: urllib and http.client take ~100 ms to
    import (the email package), paid twice per login since sshd asks twice."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    lines = [
        f"POST {parts.path} HTTP/1.0",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection((parts.hostname, port), timeout=TIMEOUT_SECONDS) as raw:
        connection = raw
        if https:
            import ssl  # only for https: another ~30 ms

            connection = ssl.create_default_context().wrap_socket(
                raw, server_hostname=parts.hostname
            )
        connection.sendall(request)
        received = b""
        while len(received) <= MAX_ANSWER_BYTES and (chunk := connection.recv(65536)):
            received += chunk
    head, _, answer = received.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise LookupFailed(f"not an HTTP answer: {head[:100]!r}")
    return int(status_line[1]), answer


def _timestamp() -> str:
    # Milliseconds: two lookups in the same second are two different signatures.
    return f"{time.time():.3f}"


def authorized_line(config: GatewayConfig, answer: dict, key_type: str, key_blob: str) -> str:
    """One authorized_keys line: restrict, the forced command, the key."""
    username = answer.get("username")
    uid = answer.get("uid")
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        raise ValueError("bad username in Warren's answer")
    if isinstance(uid, bool) or not isinstance(uid, int) or uid < 1:
        raise ValueError("bad uid in Warren's answer")
    refusal = answer.get("refusal")
    options = ["restrict"]
    if refusal:
        encoded = base64.urlsafe_b64encode(str(refusal)[:500].encode()).decode()
        argv = ["refuse", encoded]
    else:
        limits = answer.get("limits") or {}
        values = [limits.get(name) for name in LIMIT_NAMES]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError("bad limits in Warren's answer")
        argv = ["session", username, str(uid), *map(str, values)]
        options.append("pty")
        if config.agent_forwarding:
            options.append("agent-forwarding")
        if config.port_forwarding:
            options.append("port-forwarding")
    command = " ".join(shlex.quote(part) for part in [config.config_path, *argv])
    # Inside command="..." a double quote would end the option: none can appear (every part
    # is a checked path, a username, digits, or urlsafe base64).
    command = f"{shlex.quote(config.session_command)} {command}"
    if '"' in command or "\n" in command:
        raise ValueError('the session command\'s path cannot go inside command="..."')
    options.append(f'command="{command}"')
    return f"{','.join(options)} {key_type} {key_blob}"


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        return 1
    config_path, login, key_type, key_blob = argv
    config = read_config(config_path)
    if login != config.login or not KEY_TYPE_RE.match(key_type):
        return 0
    if not KEY_BLOB_RE.match(key_blob):
        return 0
    try:
        answer = lookup(config, key_type, key_blob)
        if answer is None:
            return 0
        print(authorized_line(config, answer, key_type, key_blob))
    except (OSError, ValueError, LookupFailed) as exc:
        # sshd logs the command's stderr: the operator sees why keys stopped working.
        print(f"warren ssh key lookup failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
