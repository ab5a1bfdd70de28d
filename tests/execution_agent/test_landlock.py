"""The Landlock ruleset that keeps user code from listening on TCP ports, on this real kernel.

A kernel without Landlock is made for real: a seccomp filter (installed in a child process)
answers ENOSYS to landlock_create_ruleset, which is what an old kernel says.
"""

from __future__ import annotations

import errno
import socket
import struct
import subprocess
import sys
import textwrap

import pytest

from execution_agent import landlock
from execution_agent.testing.harness import REPO_ROOT, free_port

needs_landlock = pytest.mark.skipif(
    landlock.abi_version() < landlock.NET_ABI, reason="kernel without Landlock networking"
)


def bind_errno(port: int, address: str = "127.0.0.1") -> int:
    """0 if binding port works in the calling thread, else the errno."""
    with socket.socket() as sock:
        try:
            sock.bind((address, port))
        except OSError as exc:
            return exc.errno
    return 0


def test_ports_parse_as_a_sorted_comma_list():
    assert landlock.parse_ports("") == ()
    assert landlock.parse_ports(" 9000, 8001 ,9000,") == (8001, 9000)


@pytest.mark.parametrize("raw", ["80a", "0", "65536", "-1", "8000-8010"])
def test_a_bad_port_list_is_refused_with_the_variable_named(raw):
    with pytest.raises(landlock.LandlockError, match="WARREN_SANDBOX_BIND_PORTS"):
        landlock.parse_ports(raw)


@needs_landlock
def test_a_restricted_thread_binds_only_its_allowed_ports_and_still_connects():
    allowed, other = free_port(), free_port()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def inside() -> tuple[int, int, int, int]:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
            return bind_errno(allowed), bind_errno(other), bind_errno(0), bind_errno(8000)

        ruleset = landlock.BindRuleset((allowed,))
        assert ruleset.run_restricted(inside) == (0, errno.EACCES, errno.EACCES, errno.EACCES)
    # The restriction stays in the launch thread: the caller (an agent's request thread) can
    # still bind, and the launch thread stays restricted for the next launch.
    assert bind_errno(0) == 0
    assert ruleset.run_restricted(lambda: bind_errno(0)) == errno.EACCES


@needs_landlock
def test_children_forked_from_the_restricted_thread_inherit_it():
    ruleset = landlock.BindRuleset(())
    code = "import socket; socket.socket().bind(('0.0.0.0', 0))"
    result = ruleset.run_restricted(
        lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    )
    assert result.returncode != 0
    assert "PermissionError" in result.stderr


@needs_landlock
def test_an_exception_in_the_restricted_thread_reaches_the_caller():
    ruleset = landlock.BindRuleset(())
    with pytest.raises(FileNotFoundError):
        ruleset.run_restricted(lambda: open("/nonexistent/warren"))  # noqa: SIM115


# seccomp: load the syscall number; landlock_create_ruleset gets ENOSYS, everything else runs.
_FILTER = b"".join(
    struct.pack("=HBBI", *insn)
    for insn in (
        (0x20, 0, 0, 0),  # ld [nr]
        (0x15, 0, 1, 444),  # jeq landlock_create_ruleset
        (0x06, 0, 0, 0x00050000 | errno.ENOSYS),  # ret ERRNO(ENOSYS)
        (0x06, 0, 0, 0x7FFF0000),  # ret ALLOW
    )
)
WITHOUT_LANDLOCK = textwrap.dedent(
    f"""
    import ctypes, sys
    libc = ctypes.CDLL(None, use_errno=True)
    program = {_FILTER!r}
    buf = ctypes.create_string_buffer(program, len(program))
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    prog = Prog(len(program) // 8, ctypes.addressof(buf))
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # no_new_privs
    assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0  # SECCOMP_MODE_FILTER
    sys.path.insert(0, {str(REPO_ROOT)!r})
    from execution_agent import landlock
    assert landlock.abi_version() == 0
    """
)


def without_landlock(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_LANDLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_a_kernel_without_landlock_and_says_how_to_opt_out():
    result = without_landlock(
        """
        try:
            landlock.ruleset_for((), production=True, optional=False)
        except landlock.LandlockError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "no Landlock networking" in result.stdout
    assert "WARREN_SANDBOX_LANDLOCK_OPTIONAL=1" in result.stdout


def test_development_or_an_explicit_opt_out_only_warns_without_landlock():
    result = without_landlock(
        """
        for production, optional in ((False, False), (True, True)):
            ruleset, warning = landlock.ruleset_for((), production=production, optional=optional)
            print(ruleset, warning)
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("None ") and "can bind any free TCP port" in line for line in lines)


def python_without_landlock(directory) -> str:
    """A python3 for AgentHarness whose kernel, as far as it can tell, has no Landlock."""
    wrapper = directory / "python-without-landlock"
    body = WITHOUT_LANDLOCK.replace("assert landlock.abi_version() == 0\n", "")
    wrapper.write_text(
        f"#!{sys.executable}\n{body}\nimport os\n"
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.mark.root
@pytest.mark.parametrize("optional", [False, True])
def test_a_production_agent_without_landlock_refuses_unless_the_operator_opts_out(
    tmp_path, uid_base, optional
):
    from execution_agent.testing.harness import AgentHarness

    extra = {"WARREN_ENV": "production"}
    if optional:
        extra["WARREN_SANDBOX_LANDLOCK_OPTIONAL"] = "1"
    harness = AgentHarness(
        uid_base=uid_base + 7_000,
        cgroup_prefix=f"warren-ll-{uid_base}-{int(optional)}",
        python=python_without_landlock(tmp_path),
        extra_env=extra,
    )
    try:
        if optional:
            harness.start()
            assert any("bind any free TCP port" in w for w in harness.client().info()["warnings"])
        else:
            with pytest.raises(RuntimeError, match="agent did not start"):
                harness.start(timeout=10)
            assert harness.process.wait(timeout=10) == 2
            assert "WARREN_SANDBOX_LANDLOCK_OPTIONAL=1" in harness.log()
    finally:
        harness.cleanup()
