"""The forced command of every SSH login: the session, in the user's sandbox.

    session <gateway.json> session <username> <uid> <memory> <pids> <tmp> <cpu_shares>
    session <gateway.json> refuse <message, urlsafe base64>

sshd runs it as the login account with the client's command in SSH_ORIGINAL_COMMAND (the
sftp subsystem's path for sftp). It asks the execution agent (op ``ssh_session``, the only op
this account may call) to start the shell or command in the user's sandbox, then relays:
its own stdin/stdout/stderr (sshd's channel) to and from the PTY or pipes the agent returns,
window sizes to the PTY, and the exit status back to sshd.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import os
import select
import signal
import struct
import sys
import termios
import threading
import tty

from execution_agent.client import AgentClient, AgentError, AgentUnavailable
from ssh_gateway.config import read_config

CHUNK = 256 * 1024


def _winsize(fd: int) -> tuple[int, int]:
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return 24, 80
    return (rows or 24), (cols or 80)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_status(fd: int) -> int:
    data = b""
    while chunk := os.read(fd, 64):
        data += chunk
    try:
        return min(int(data.strip() or b"255"), 255)
    except ValueError:
        return 255


def relay_pty(master: int, status: int) -> int:
    """Interactive session: raw terminal both ways, resizes forwarded, until the shell ends.

    Typed input waits in ``pending`` and goes to the PTY only when it can take it: a
    blocking write there, while the program is itself blocked writing its echo to us, would
    wedge the session for good (a big paste into anything that prints what it reads)."""
    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)

    def resize(signum, frame) -> None:
        rows, cols = _winsize(0)
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    signal.signal(signal.SIGWINCH, resize)
    os.set_blocking(master, False)
    pending = b""
    stdin_open = True
    code = None
    try:
        while True:
            readable = [master] + ([status] if code is None else [])
            if stdin_open and len(pending) < CHUNK:
                readable.append(0)
            writable = [master] if pending else []
            quiet = 0.2 if code is not None else None
            ready, can_write, _ = select.select(readable, writable, [], quiet)
            if not ready and not can_write and code is not None:
                break  # the shell ended and its terminal has gone quiet
            if can_write:
                try:
                    pending = pending[os.write(master, pending) :]
                except BlockingIOError:
                    pass
                except OSError:  # EIO: the shell's side is gone
                    pending = b""
            if 0 in ready:
                data = os.read(0, CHUNK)
                pending += data
                stdin_open = bool(data)
            if master in ready:
                try:
                    data = os.read(master, CHUNK)
                except BlockingIOError:
                    data = None
                except OSError:  # EIO: every holder of the PTY's other side is gone
                    data = b""
                if data == b"":
                    break
                if data:
                    try:
                        _write_all(1, data)
                    except BrokenPipeError:  # sshd's side is gone: the client left
                        break
            if status in ready:
                code = _read_status(status)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
    return _read_status(status) if code is None else code


def _pump(source: int, target: int, close_target: bool) -> None:
    try:
        _carry(source, target)
    except OSError:
        pass  # the other side went away (EPIPE): nothing more to carry
    finally:
        os.close(source)
        if close_target:
            os.close(target)


def _carry(source: int, target: int) -> None:
    """Copy until EOF: splice(2) between pipes (no copy through this process: scp and rsync
    go at the pipes' pace), read and write when either end is not a pipe."""
    try:
        while os.splice(source, target, CHUNK):
            pass
        return
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    while data := os.read(source, CHUNK):
        _write_all(target, data)


def relay_pipes(fds: dict[str, int]) -> int:
    """scp, sftp, rsync, `ssh host cmd`: three streams as they are, then the exit status."""
    stdin = threading.Thread(target=_pump, args=(0, fds["stdin"], True), daemon=True)
    outputs = [
        threading.Thread(target=_pump, args=(fds["stdout"], 1, False)),
        threading.Thread(target=_pump, args=(fds["stderr"], 2, False)),
    ]
    stdin.start()
    for thread in outputs:
        thread.start()
    code = _read_status(fds["status"])
    for thread in outputs:
        thread.join()
    return code


def main(argv: list[str]) -> int:
    # Python ignores SIGPIPE: a write to a pipe nobody reads any more (the sandbox's stdin
    # once its command has ended, sshd's once the client left) fails with EPIPE, which the
    # relays take as the end of that stream. Default SIGPIPE would kill the session with 141.
    if len(argv) == 3 and argv[1] == "refuse":
        message = base64.urlsafe_b64decode(argv[2].encode()).decode("utf-8", "replace")
        sys.stderr.write(f"{message}\r\n")
        return 1
    if len(argv) != 8 or argv[1] != "session":
        sys.stderr.write("warren: this key carries a malformed session command\r\n")
        return 1
    config = read_config(argv[0])
    username, uid, memory, pids, tmp, shares = argv[2:]
    use_pty = os.isatty(0)
    rows, cols = _winsize(0) if use_pty else (24, 80)
    client = AgentClient(config.agent_socket, timeout=15)
    try:
        fds = client.ssh_session(
            user={"uid": int(uid), "username": username},
            limits={
                "memory_bytes": int(memory),
                "pids_max": int(pids),
                "tmp_bytes": int(tmp),
                "cpu_shares": int(shares),
            },
            command=os.environ.get("SSH_ORIGINAL_COMMAND"),
            pty=use_pty,
            rows=rows,
            cols=cols,
            term=os.environ.get("TERM") if use_pty else None,
        )
    except AgentError as exc:
        sys.stderr.write(f"warren: could not open your session: {exc.message}\r\n")
        return 1
    except AgentUnavailable:
        sys.stderr.write("warren: the sandbox service is not answering; try again soon\r\n")
        return 1
    if use_pty:
        return relay_pty(fds["pty"], fds["status"])
    return relay_pipes(fds)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
