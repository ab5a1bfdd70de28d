"""The seccomp program itself, loaded into a forked child (no sandbox involved)."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import termios

import pytest

from execution_agent.seccomp import build_filter


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def in_filtered_child(check) -> int:
    """Run check() in a child under the filter; return the child's exit status."""
    program = build_filter()
    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            buffer = ctypes.create_string_buffer(program, len(program))
            fprog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_char_p))
            libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
            if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
                os._exit(99)
            os._exit(check(slave))
        except BaseException:
            os._exit(98)
    os.close(slave)
    os.close(master)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def errno_of(call) -> int:
    try:
        call()
    except OSError as exc:
        return exc.errno
    return 0


@pytest.mark.parametrize("request_code", [termios.TIOCSTI, termios.TIOCSTI | 1 << 32, 0x541C])
def test_terminal_injection_ioctls_fail_with_eperm(request_code):
    status = in_filtered_child(lambda tty: errno_of(lambda: fcntl.ioctl(tty, request_code, b"x")))
    assert status == errno.EPERM


def test_other_ioctls_and_syscalls_still_work():
    def check(tty):
        fcntl.ioctl(tty, termios.TIOCGWINSZ, b"\0" * 8)
        os.getpid()
        return 0

    assert in_filtered_child(check) == 0
