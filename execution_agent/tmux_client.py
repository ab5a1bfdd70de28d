"""The agent's own tmux attach client: a PTY attached to a session without a client process.

A tmux client does little once attached: it hands its terminal to the server at identify
(MSG_IDENTIFY_STDIN), and the server reads and writes that terminal itself. What stays is a
process per open browser tab, sandboxed because a tmux client obeys its server (MSG_SHELL,
MSG_EXEC, MSG_LOCK run commands): 0.7 MiB of PSS and a bubblewrap launch (~10 ms) each.

Here the agent speaks the client's side of that socket protocol and obeys nothing: it
identifies, sends ``attach-session``, answers the server's exit and suspend handshakes, and
refuses file requests. The terminal is a PTY whose master goes to the web process as before.

The protocol is learnt, not written down: at first use the agent runs the system's own tmux
client once against a socket of its own and records what it sends for identify (flags, the
terminal's terminfo entries, protocol version). Anything in that recording this module does
not know (another tmux) leaves ``learn()`` returning None, and the caller falls back to
launching real clients.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import errno
import logging
import os
import select
import socket
import stat
import struct
import subprocess
import threading
import time
from pathlib import Path

from execution_agent import creds

logger = logging.getLogger(__name__)

# tmux.h's message types (PROTOCOL_VERSION 8, tmux 3.x).
MSG_VERSION = 12
MSG_IDENTIFY_FLAGS = 100
MSG_IDENTIFY_TERM = 101
MSG_IDENTIFY_TTYNAME = 102
MSG_IDENTIFY_STDIN = 104
MSG_IDENTIFY_ENVIRON = 105
MSG_IDENTIFY_DONE = 106
MSG_IDENTIFY_CLIENTPID = 107
MSG_IDENTIFY_CWD = 108
MSG_IDENTIFY_FEATURES = 109
MSG_IDENTIFY_STDOUT = 110
MSG_IDENTIFY_LONGFLAGS = 111
MSG_IDENTIFY_TERMINFO = 112
MSG_COMMAND = 200
MSG_DETACH = 201
MSG_DETACHKILL = 202
MSG_EXIT = 203
MSG_EXITED = 204
MSG_EXITING = 205
MSG_LOCK = 206
MSG_READY = 207
MSG_RESIZE = 208
MSG_SHELL = 209
MSG_SHUTDOWN = 210
MSG_SUSPEND = 214
MSG_UNLOCK = 215
MSG_WAKEUP = 216
MSG_EXEC = 217
MSG_READ_OPEN = 300
MSG_READ_DONE = 302
MSG_WRITE_OPEN = 303
MSG_WRITE = 304
MSG_WRITE_READY = 305

# What a recording may hold: the identify sequence and the command, nothing else.
_KNOWN_IDENTIFY = frozenset(range(MSG_IDENTIFY_FLAGS, MSG_IDENTIFY_TERMINFO + 1)) | {MSG_COMMAND}
# Replayed as recorded: who the terminal is. The rest (tty, fds, pid, cwd, environment) is ours.
_REPLAYED = (
    MSG_IDENTIFY_FLAGS,
    MSG_IDENTIFY_LONGFLAGS,
    MSG_IDENTIFY_TERM,
    MSG_IDENTIFY_FEATURES,
    MSG_IDENTIFY_TERMINFO,
)
HEADER = struct.Struct("=IHHII")  # imsg: type, length (with header), flags, peerid, pid
IMSGF_HASFD = 1
MESSAGE_MAX = 16384  # imsg's MAX_IMSGSIZE
TERM = "xterm-256color"
LEARN_SECONDS = 5
ATTACH_SECONDS = 5


class AttachFailed(Exception):
    """tmux answered the attach with an exit (no such session) or broke the protocol."""


@dataclasses.dataclass(frozen=True)
class Identity:
    """What the system's tmux client sends to identify an xterm-256color terminal."""

    version: int
    messages: tuple[tuple[int, bytes], ...]


def _message(version: int, kind: int, data: bytes = b"", *, has_fd: bool = False) -> bytes:
    flags = IMSGF_HASFD if has_fd else 0
    return HEADER.pack(kind, HEADER.size + len(data), flags, version, 0) + data


def _split(buffer: bytearray) -> list[tuple[int, int, bytes]]:
    """Take the whole messages off the front of ``buffer``: (type, peerid, data) each."""
    messages = []
    while len(buffer) >= HEADER.size:
        kind, length, _, peerid, _ = HEADER.unpack_from(buffer)
        if length < HEADER.size or length > MESSAGE_MAX:
            raise AttachFailed(f"a message of {length} bytes")
        if len(buffer) < length:
            break
        messages.append((kind, peerid, bytes(buffer[HEADER.size : length])))
        del buffer[:length]
    return messages


def learn(tmux: str, workdir: Path) -> Identity | None:
    """Record the system tmux client's identify messages; None if they are not understood."""
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = workdir / f"learn-{os.getpid()}-{threading.get_ident()}"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    master, slave = os.openpty()
    process = None
    try:
        listener.bind(str(path))
        listener.listen(1)
        listener.settimeout(LEARN_SECONDS)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TERM": TERM}
        process = subprocess.Popen(
            [tmux, "-S", str(path), "attach-session", "-t", "=warren-learn"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd="/",
            start_new_session=True,
        )
        os.close(slave)
        slave = -1
        peer, _ = listener.accept()
        with peer:
            recorded = _record(peer)
            if recorded is not None:
                # A MSG_EXIT ends the client before it attached: it exits, and runs nothing.
                with contextlib.suppress(OSError):
                    peer.sendall(_message(recorded.version, MSG_EXIT))
        return recorded
    except (OSError, AttachFailed) as exc:
        logger.warning("could not learn the tmux client's identify messages: %s", exc)
        return None
    finally:
        listener.close()
        if slave >= 0:
            os.close(slave)
        if process is not None:
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        os.close(master)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _record(peer: socket.socket) -> Identity | None:
    buffer = bytearray()
    seen: list[tuple[int, int, bytes]] = []
    deadline = time.monotonic() + LEARN_SECONDS
    while not any(kind == MSG_COMMAND for kind, _, _ in seen):
        peer.settimeout(max(0.01, deadline - time.monotonic()))
        # The two fds tmux sends (stdin, stdout) come as ancillary data: take and close them.
        chunk, ancillary, _, _ = peer.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                for fd in fds:
                    os.close(fd)
        if not chunk:
            raise AttachFailed("the tmux client hung up while identifying")
        buffer += chunk
        seen += _split(buffer)
    kinds = {kind for kind, _, _ in seen}
    versions = {peerid for _, peerid, _ in seen}
    wanted = {MSG_IDENTIFY_FLAGS, MSG_IDENTIFY_TERM, MSG_IDENTIFY_STDIN, MSG_IDENTIFY_DONE}
    if len(versions) != 1 or not kinds <= _KNOWN_IDENTIFY or not wanted <= kinds:
        logger.warning("tmux's identify messages are not the ones known here: %s", sorted(kinds))
        return None
    return Identity(
        version=versions.pop(),
        messages=tuple((kind, data) for kind, _, data in seen if kind in _REPLAYED),
    )


class Client:
    """One attached client: the socket to the user's tmux server, kept by the agent."""

    def __init__(self, sock: socket.socket, identity: Identity) -> None:
        self.sock = sock
        self.identity = identity
        self.version = identity.version
        self.buffer = bytearray()
        self.closed = False
        self._send_lock = threading.Lock()

    def alive(self) -> bool:
        return not self.closed

    def send(self, kind: int, data: bytes = b"") -> None:
        with self._send_lock, contextlib.suppress(OSError):
            self.sock.sendall(_message(self.version, kind, data))

    def send_command(self, argv: list[str]) -> None:
        packed = b"".join(os.fsencode(arg) + b"\0" for arg in argv)
        self.sock.sendall(
            _message(self.version, MSG_COMMAND, struct.pack("=i", len(argv)) + packed)
        )

    def resize(self) -> None:
        """Tell tmux the terminal's size changed (the client's SIGWINCH, in a real client)."""
        if not self.closed:
            self.send(MSG_RESIZE)

    def answer(self, kind: int, data: bytes) -> bool:
        """Answer one message from the server as a client that obeys nothing; False: done."""
        if kind in (MSG_DETACH, MSG_DETACHKILL, MSG_EXIT, MSG_SHUTDOWN):
            self.send(MSG_EXITING)  # the server answers MSG_EXITED and lets go of the terminal
        elif kind in (MSG_EXITED, MSG_SHELL, MSG_EXEC):
            # MSG_SHELL and MSG_EXEC would replace a real client with a command: this one
            # only goes away (its console's page then attaches anew).
            return False
        elif kind == MSG_SUSPEND:
            self.send(MSG_WAKEUP)  # nothing to suspend: carry on drawing
        elif kind == MSG_LOCK:
            self.send(MSG_UNLOCK)  # a real client runs the lock command first; we run nothing
        elif kind == MSG_WRITE_OPEN and len(data) >= 4:
            # A command's output for this client's stdout or a file: refused.
            stream = struct.unpack_from("=i", data)[0]
            self.send(MSG_WRITE_READY, struct.pack("=ii", stream, errno.EBADF))
        elif kind == MSG_READ_OPEN and len(data) >= 4:
            stream = struct.unpack_from("=i", data)[0]
            self.send(MSG_READ_DONE, struct.pack("=ii", stream, errno.EBADF))
        # Anything else (MSG_FLAGS, newer messages) asks nothing of a client.
        return True


class Clients:
    """The agent's attached clients, and the one thread that answers their servers."""

    def __init__(self, tmux: str, workdir: Path) -> None:
        self._tmux = tmux
        self._workdir = workdir
        self._identity: Identity | None = None
        self._learnt = False
        self._learning = threading.Lock()
        self._guard = threading.Lock()
        self._clients: dict[int, Client] = {}
        self._epoll = select.epoll()
        self._thread: threading.Thread | None = None

    def identity(self) -> Identity | None:
        """The learnt identify messages (learnt on first call); None: launch real clients."""
        if not self._learnt:
            with self._learning:
                if not self._learnt:
                    self._identity = learn(self._tmux, self._workdir)
                    self._learnt = True
        return self._identity

    def count(self) -> int:
        with self._guard:
            return len(self._clients)

    def attach(
        self,
        socket_path: Path,
        uid: int,
        gid: int,
        *,
        session: str,
        read_only: bool,
        slave: int,
        cwd: str,
        as_user: bool,
    ) -> Client:
        """Attach ``slave`` (a PTY) to ``session`` of the tmux server on ``socket_path``.

        ``as_user``: connect with the user's effective ids (tmux lets its owner in, and root
        is nobody inside the user namespace of the sandbox). The server must run as ``uid``:
        whatever else answers there (a socket the user put in its place) is refused.
        AttachFailed if tmux ends the attach (no such session); OSError if nothing answers.
        """
        argv = ["attach-session", "-t", f"={session}"]
        if read_only:
            argv += ["-f", "read-only,ignore-size"]
        client = self._connect(socket_path, uid, gid, as_user, ATTACH_SECONDS)
        try:
            self._identify(client, slave, os.ttyname(slave), cwd)
            client.send_command(argv)
            self._wait_ready(client)
        except BaseException:
            client.sock.close()
            raise
        client.sock.settimeout(1)  # the watcher's answers are a few bytes: never a long block
        with self._guard:
            self._clients[client.sock.fileno()] = client
            self._epoll.register(client.sock.fileno(), select.EPOLLIN)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="tmux-clients", daemon=True
                )
                self._thread.start()
        # Whatever came with MSG_READY is answered here; the watcher takes the rest.
        self._answer_all(client, _split(client.buffer))
        return client

    def command(
        self,
        socket_path: Path,
        uid: int,
        gid: int,
        argv: list[str],
        *,
        cwd: str,
        as_user: bool,
        timeout: float,
        cap: int,
    ) -> tuple[int, bytes, bytes]:
        """Run one tmux command as a client of no terminal: (exit code, stdout, stderr).

        What a ``tmux -S socket_path argv...`` process would do, without the process: tmux
        writes the command's output through the file protocol (the client's fds 1 and 2), each
        kept up to ``cap`` bytes, then exits the client with the code. No file is ever opened:
        a write to anything else (save-buffer's path) is refused. OSError if nothing answers.
        """
        client = self._connect(socket_path, uid, gid, as_user, timeout)
        deadline = time.monotonic() + timeout
        streams: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}  # by the client's fd
        opened: dict[int, bytearray] = {}  # by tmux's stream number
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            with client.sock:
                try:
                    self._identify(client, null, "", cwd)
                finally:
                    os.close(null)
                client.send_command(argv)
                while True:
                    client.sock.settimeout(max(0.01, deadline - time.monotonic()))
                    try:
                        chunk = client.sock.recv(65536)
                    except TimeoutError:
                        raise AttachFailed(f"tmux {argv[0]} timed out") from None
                    if not chunk:  # as a client process says when the server goes (kill-server)
                        streams[2] += b"server exited unexpectedly\n"
                        return 1, bytes(streams[1]), bytes(streams[2])
                    client.buffer += chunk
                    for kind, _, data in _split(client.buffer):
                        if kind == MSG_EXIT:
                            code = struct.unpack_from("=i", data)[0] if len(data) >= 4 else 0
                            return code, bytes(streams[1]), bytes(streams[2])
                        if kind == MSG_VERSION:
                            raise AttachFailed("tmux speaks another protocol version")
                        if kind == MSG_WRITE_OPEN and len(data) >= 8:
                            stream, fd = struct.unpack_from("=ii", data)
                            if fd in streams:
                                opened[stream] = streams[fd]
                            error = 0 if fd in streams else errno.EBADF
                            client.send(MSG_WRITE_READY, struct.pack("=ii", stream, error))
                        elif kind == MSG_WRITE and len(data) >= 4:
                            kept = opened.get(struct.unpack_from("=i", data)[0])
                            if kept is not None and len(kept) < cap:
                                kept += data[4 : 4 + cap - len(kept)]
                        elif not client.answer(kind, data):
                            raise AttachFailed(f"tmux ended the client during {argv[0]}")
        except TimeoutError:
            raise AttachFailed(f"tmux {argv[0]} timed out") from None

    def _connect(
        self, socket_path: Path, uid: int, gid: int, as_user: bool, timeout: float
    ) -> Client:
        identity = self.identity()
        if identity is None:
            raise AttachFailed("the tmux client protocol is not known")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            acting = creds.connecting_as(uid, gid) if as_user else contextlib.nullcontext()
            with acting:
                # O_NOFOLLOW + connecting through /proc/self/fd: a symlink planted by the user
                # cannot point the agent at some other socket.
                fd = os.open(socket_path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                        raise AttachFailed("the tmux socket is not a socket")
                    sock.settimeout(timeout)
                    sock.connect(f"/proc/self/fd/{fd}")
                finally:
                    os.close(fd)
            peer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            peer_uid = struct.unpack("3i", peer)[1]
            if peer_uid != uid:
                raise AttachFailed(f"the tmux socket answers as uid {peer_uid}, not {uid}")
        except BaseException:
            sock.close()
            raise
        return Client(sock, identity)

    @staticmethod
    def _identify(client: Client, terminal: int, ttyname: str, cwd: str) -> None:
        """Everything a real client sends before its command: ``terminal`` is its stdin and
        stdout (a PTY to attach, or /dev/null for a command), ``ttyname`` its name."""
        version = client.version
        out = [_message(version, kind, data) for kind, data in client.identity.messages]
        out.append(_message(version, MSG_IDENTIFY_TTYNAME, ttyname.encode() + b"\0"))
        out.append(_message(version, MSG_IDENTIFY_CWD, cwd.encode() + b"\0"))
        client.sock.sendall(b"".join(out))
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [terminal]))]
        for kind in (MSG_IDENTIFY_STDIN, MSG_IDENTIFY_STDOUT):
            client.sock.sendmsg([_message(version, kind, has_fd=True)], rights)
        client.sock.sendall(
            _message(version, MSG_IDENTIFY_CLIENTPID, struct.pack("=i", os.getpid()))
            + _message(version, MSG_IDENTIFY_ENVIRON, f"TERM={TERM}\0".encode())
            + _message(version, MSG_IDENTIFY_DONE)
        )

    @staticmethod
    def _wait_ready(client: Client) -> None:
        deadline = time.monotonic() + ATTACH_SECONDS
        errors = bytearray()
        error_streams: set[int] = set()
        while True:
            client.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = client.sock.recv(65536)
            except TimeoutError:
                raise AttachFailed("tmux did not answer the attach") from None
            if not chunk:
                raise AttachFailed("tmux hung up on the attach")
            client.buffer += chunk
            while client.buffer:
                messages = _split(client.buffer)
                if not messages:
                    break
                for index, (kind, _, data) in enumerate(messages):
                    if kind == MSG_READY:
                        # Put back what followed it, for the watcher.
                        rest = b"".join(
                            _message(client.version, k, d) for k, _, d in messages[index + 1 :]
                        )
                        client.buffer[:0] = rest
                        return
                    if kind == MSG_VERSION:
                        raise AttachFailed("tmux speaks another protocol version")
                    if kind == MSG_EXIT:
                        raise AttachFailed(errors.decode("utf-8", "replace").strip() or "exited")
                    if kind == MSG_WRITE and len(data) >= 4 and len(errors) < 4096:
                        if struct.unpack_from("=i", data)[0] in error_streams:
                            errors += data[4:]
                    elif kind == MSG_WRITE_OPEN and len(data) >= 8:
                        # Take the error text tmux is about to write (fd 2), nothing else.
                        stream, fd = struct.unpack_from("=ii", data)
                        if fd == 2:
                            error_streams.add(stream)
                        error = 0 if fd == 2 else errno.EBADF
                        client.send(MSG_WRITE_READY, struct.pack("=ii", stream, error))
                    else:
                        client.answer(kind, data)

    def _answer_all(self, client: Client, messages) -> None:
        for kind, _, data in messages:
            if not client.answer(kind, data):
                self._drop(client)
                return

    def _drop(self, client: Client) -> None:
        with self._guard:
            if client.closed:
                return
            client.closed = True
            fd = client.sock.fileno()
            self._clients.pop(fd, None)
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(fd)
        client.sock.close()

    def _watch(self) -> None:
        while True:
            for fd, _ in self._epoll.poll():
                with self._guard:
                    client = self._clients.get(fd)
                if client is None:
                    continue
                try:
                    chunk = client.sock.recv(65536)
                except (BlockingIOError, TimeoutError):
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._drop(client)  # the server let go (the terminal closed, or it exited)
                    continue
                client.buffer += chunk
                try:
                    messages = _split(client.buffer)
                except AttachFailed as exc:
                    logger.warning("tmux client: %s; dropped", exc)
                    self._drop(client)
                    continue
                self._answer_all(client, messages)
