"""Wire format shared by the agent and its client: length-prefixed JSON frames plus SCM_RIGHTS fds.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. File
descriptors ride on the first bytes of a response frame. This module is stdlib only because
the client (imported by Django) uses it too.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import socket
import struct

# The "v" of every request; the agent refuses any other (see PROTOCOL.md).
PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 1 << 20
MAX_RESPONSE_BYTES = 16 << 20
MAX_FDS = 8
HEADER = struct.Struct(">I")

ERROR_CODES = frozenset(
    {
        "bad_request",
        "unsupported_version",
        "unknown_op",
        "forbidden",
        "not_found",
        "limit",
        "failed",
    }
)


class FrameError(Exception):
    """The peer sent something that is not a well-formed frame."""


class PeerClosed(FrameError):
    """The peer closed the connection before a whole frame arrived."""


def encode(message: dict) -> bytes:
    """Serialise one message as a frame."""
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    return HEADER.pack(len(body)) + body


def send_frame(sock: socket.socket, message: dict, fds: list[int] = ()) -> None:
    """Send one frame, attaching fds (SCM_RIGHTS) to its first bytes."""
    data = encode(message)
    if fds:
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        sent = sock.sendmsg([data], ancillary)
        data = data[sent:]
    if data:
        sock.sendall(data)


def _recv_into(sock: socket.socket, size: int, fds: list[int]) -> bytes:
    """Read exactly size bytes, collecting any fds that arrive on the way."""
    chunks = []
    remaining = size
    fd_space = socket.CMSG_SPACE(MAX_FDS * array.array("i").itemsize)
    while remaining:
        data, ancdata, flags, _ = sock.recvmsg(
            min(remaining, 1 << 16), fd_space, getattr(socket, "MSG_CMSG_CLOEXEC", 0)
        )
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
                fds.extend(received)
        if flags & socket.MSG_CTRUNC:
            raise FrameError("too many file descriptors in one frame")
        if not data:
            raise PeerClosed("connection closed mid-frame" if chunks else "connection closed")
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, max_bytes: int) -> tuple[object, list[int]]:
    """Read one frame; return its decoded JSON and any fds that came with it."""
    fds: list[int] = []
    try:
        (length,) = HEADER.unpack(_recv_into(sock, HEADER.size, fds))
        if length > max_bytes:
            raise FrameError(f"frame of {length} bytes exceeds the {max_bytes} byte limit")
        body = _recv_into(sock, length, fds)
        try:
            return json.loads(body.decode("utf-8")), fds
        except (UnicodeDecodeError, ValueError) as exc:
            raise FrameError(f"frame is not UTF-8 JSON: {exc}") from None
    except BaseException:
        for fd in fds:
            _close_quietly(fd)
        raise


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
