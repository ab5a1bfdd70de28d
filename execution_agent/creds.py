"""Act as a user on the filesystem from one thread of the (threaded, root) agent.

Linux keeps credentials per thread; glibc's setuid()/setgroups() wrappers broadcast the change
to every thread of the process (POSIX semantics), which would hand every other request thread
the user's identity. So this module calls setfsuid/setfsgid (never broadcast, and they drop
the filesystem capabilities CAP_DAC_OVERRIDE, CAP_FOWNER, ... while fsuid != 0) and issues the
setgroups syscall directly, which changes only the calling thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import threading
from collections.abc import Iterator

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# Raw syscall numbers: the glibc wrapper for setgroups is the broadcasting one we must avoid.
_SYS_SETGROUPS = {"x86_64": 116, "aarch64": 159}.get(platform.machine())
_SYS_SETFSUID = {"x86_64": 122, "aarch64": 151}.get(platform.machine())
_SYS_SETFSGID = {"x86_64": 123, "aarch64": 152}.get(platform.machine())
_SYS_SETRESUID = {"x86_64": 117, "aarch64": 147}.get(platform.machine())
_SYS_SETRESGID = {"x86_64": 119, "aarch64": 149}.get(platform.machine())

_state = threading.local()


class CredentialError(OSError):
    """The thread could not take on (or give back) the user's identity."""


def _setfsuid(uid: int) -> int:
    return _libc.syscall(_SYS_SETFSUID, ctypes.c_uint(uid))


def _setfsgid(gid: int) -> int:
    return _libc.syscall(_SYS_SETFSGID, ctypes.c_uint(gid))


def _current_fsuid() -> int:
    # setfsuid(-1) always fails and returns the current value: the documented way to read it.
    return _setfsuid(0xFFFFFFFF)


def _current_fsgid() -> int:
    return _setfsgid(0xFFFFFFFF)


def _thread_setgroups(gids: list[int]) -> None:
    array = (ctypes.c_uint * max(len(gids), 1))(*gids)
    if _libc.syscall(_SYS_SETGROUPS, ctypes.c_size_t(len(gids)), array) != 0:
        err = ctypes.get_errno()
        raise CredentialError(err, f"setgroups: {os.strerror(err)}")


def supported() -> bool:
    return None not in (_SYS_SETGROUPS, _SYS_SETFSUID, _SYS_SETFSGID) and os.geteuid() == 0


@contextlib.contextmanager
def acting_as(uid: int, gid: int) -> Iterator[None]:
    """Within the block, this thread's filesystem accesses are checked as uid:gid (no groups)."""
    if getattr(_state, "active", False):
        raise CredentialError(0, "acting_as does not nest")
    saved_groups = os.getgroups()
    _state.active = True
    try:
        _thread_setgroups([])
        _setfsgid(gid)
        _setfsuid(uid)
        if _current_fsuid() != uid or _current_fsgid() != gid:
            raise CredentialError(0, f"could not switch this thread to {uid}:{gid}")
        yield
    finally:
        _setfsuid(0)
        _setfsgid(0)
        _thread_setgroups(saved_groups)
        _state.active = False
        if _current_fsuid() != 0:
            # A thread stuck with a user's identity must not serve another request.
            os._exit(70)


def _thread_setres(number: int | None, value: int, what: str) -> None:
    """Set only the effective id of this thread (-1 leaves the real and saved ids alone)."""
    keep = ctypes.c_uint(0xFFFFFFFF)
    if number is None or _libc.syscall(number, keep, ctypes.c_uint(value), keep) != 0:
        err = ctypes.get_errno()
        raise CredentialError(err, f"{what}: {os.strerror(err)}")


@contextlib.contextmanager
def connecting_as(uid: int, gid: int) -> Iterator[None]:
    """Within the block, this thread *is* uid:gid (effective ids, no groups), not just on disk.

    For a connect() whose peer checks who we are: SO_PEERCRED reports the effective ids, not
    the filesystem ones acting_as changes. The saved ids stay 0, so the way back is open; the
    capabilities come back with the effective uid 0.
    """
    if getattr(_state, "active", False):
        raise CredentialError(0, "connecting_as does not nest")
    saved_groups = os.getgroups()
    _state.active = True
    try:
        _thread_setgroups([])
        _thread_setres(_SYS_SETRESGID, gid, "setresgid")
        _thread_setres(_SYS_SETRESUID, uid, "setresuid")
        yield
    finally:
        try:
            _thread_setres(_SYS_SETRESUID, 0, "setresuid")
            _thread_setres(_SYS_SETRESGID, 0, "setresgid")
            _thread_setgroups(saved_groups)
        except CredentialError:
            os._exit(70)  # a thread stuck with a user's identity must not serve another request
        _state.active = False
