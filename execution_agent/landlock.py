"""Keep user code from listening on TCP ports: a Landlock ruleset that handles only TCP bind.

Sandboxes share the machine's network namespace, so without this a console looping on
``bind(("127.0.0.1", 8000))`` takes the dashboard's port at its next restart (or nginx's, or a port
Warren will use later). Landlock (kernel >= 6.7, ABI 4) restricts a thread and everything it
forks from then on; the ruleset here handles ``LANDLOCK_ACCESS_NET_BIND_TCP`` only, so binding
a TCP port is refused (EACCES) unless the port is on the allow-list, while connects (kept in
check by the nftables firewall), UDP, Unix sockets and files are untouched.

The agent restricts one thread and forks every sandbox from it (``run_restricted``):
credentials are per thread on Linux, so the agent's other threads keep full access to /proc
of every process (Landlock refuses ptrace-style /proc reads, such as environ, of processes
outside the reader's domain; the process list reads web app workers' tags that way).
web/run.py restricts the Emperor's whole process before exec; vassals inherit it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ThreadPoolExecutor
from typing import TypeVar

_SYS_CREATE_RULESET = {"x86_64": 444, "aarch64": 444}.get(platform.machine())
_SYS_ADD_RULE = {"x86_64": 445, "aarch64": 445}.get(platform.machine())
_SYS_RESTRICT_SELF = {"x86_64": 446, "aarch64": 446}.get(platform.machine())
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_NET_PORT = 2
LANDLOCK_ACCESS_NET_BIND_TCP = 1
PR_SET_NO_NEW_PRIVS = 38
# Networking rules arrived with ABI 4 (Linux 6.7).
NET_ABI = 4

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

T = TypeVar("T")


class LandlockError(Exception):
    """Landlock cannot restrict TCP binds here; the message says why."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _NetPortAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct landlock_net_port_attr is __attribute__((packed))
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled."""
    if _SYS_CREATE_RULESET is None:
        return 0
    flags = ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION)
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), flags)
    return max(version, 0)


def parse_ports(raw: str) -> tuple[int, ...]:
    """``WARREN_SANDBOX_BIND_PORTS``: comma list of TCP ports user code may bind (default none)."""
    ports = set()
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        if not item.isdigit() or not 1 <= int(item) <= 65535:
            raise LandlockError(f"WARREN_SANDBOX_BIND_PORTS: not a TCP port: {item!r}")
        ports.add(int(item))
    return tuple(sorted(ports))


class BindRuleset:
    """A Landlock ruleset refusing TCP binds except to ``allowed_ports``, ready to apply."""

    def __init__(self, allowed_ports: tuple[int, ...] = ()) -> None:
        version = abi_version()
        if version < NET_ABI:
            raise LandlockError(
                "this kernel has no Landlock networking (needs Linux 6.7 or later with "
                f"landlock in the lsm= list; Landlock ABI here: {version or 'none'})"
            )
        self.allowed_ports = allowed_ports
        self._launcher: ThreadPoolExecutor | None = None
        self._guard = threading.Lock()
        attr = _RulesetAttr(0, LANDLOCK_ACCESS_NET_BIND_TCP, 0)
        # Only as much of the struct as this ABI knows ("scoped" arrived with ABI 6).
        size = ctypes.sizeof(attr) if version >= 6 else 16
        fd = _libc.syscall(
            _SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
        )
        if fd < 0:
            raise LandlockError(f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
        self.fd = fd
        for port in allowed_ports:
            rule = _NetPortAttr(LANDLOCK_ACCESS_NET_BIND_TCP, port)
            result = _libc.syscall(
                _SYS_ADD_RULE,
                ctypes.c_int(fd),
                ctypes.c_int(LANDLOCK_RULE_NET_PORT),
                ctypes.byref(rule),
                ctypes.c_uint32(0),
            )
            if result != 0:
                os.close(fd)
                raise LandlockError(
                    f"landlock_add_rule (port {port}): {os.strerror(ctypes.get_errno())}"
                )

    def restrict_current_thread(self) -> None:
        """From now on this thread, and whatever it forks or execs, cannot bind other TCP ports.

        Landlock needs no_new_privs unless the thread has CAP_SYS_ADMIN (the agent as root):
        root keeps setuid helpers working; an unprivileged agent sets no_new_privs first.
        """
        if os.geteuid() != 0 and _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise LandlockError(f"no_new_privs: {os.strerror(ctypes.get_errno())}")
        if _libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise LandlockError(f"landlock_restrict_self: {os.strerror(err)}")

    def run_restricted(self, function: Callable[[], T]) -> T:
        """Call function in the agent's one restricted thread; return or raise its result.

        One thread, restricted once, so every sandbox is in the same Landlock domain: a tmux
        server (started by one launch) must read /proc of its clients (started by others), and
        Landlock refuses that across sibling domains.
        """
        with self._guard:
            if self._launcher is None:
                self._launcher = ThreadPoolExecutor(
                    max_workers=1,
                    thread_name_prefix="landlocked-launch",
                    initializer=self.restrict_current_thread,
                )
        try:
            return self._launcher.submit(function).result()
        except BrokenExecutor:
            raise LandlockError("the restricted launch thread could not be set up") from None


def ruleset_for(
    allowed_ports: tuple[int, ...], *, production: bool, optional: bool
) -> tuple[BindRuleset | None, str | None]:
    """The sandboxes' ruleset, or (None, warning) where the kernel cannot enforce it.

    Raises LandlockError in production unless the operator opted out explicitly.
    """
    try:
        return BindRuleset(allowed_ports), None
    except LandlockError as exc:
        if production and not optional:
            raise LandlockError(
                f"{exc}: user code could listen on Warren's ports. Upgrade the kernel, or set "
                "WARREN_SANDBOX_LANDLOCK_OPTIONAL=1 to run without this protection"
            ) from None
        return None, f"{exc}: user code can bind any free TCP port, Warren's too"
