"""A hand-assembled classic BPF seccomp filter: no terminal input injection, no tracing of
the sandbox's init.

Denies ioctl(TIOCSTI) and ioctl(TIOCLINUX) with EPERM (TIOCSTI pushes bytes into a terminal's
input queue: a sandboxed process sharing a terminal with a more privileged one could type
commands into it). Denies ptrace, process_vm_readv and process_vm_writev aimed at pid 1 with
EPERM: the sandbox has its own pid namespace, so pid 1 is always its init (bwrap's reaper),
and a user who stopped it (``strace -p 1``) piled zombies up to pids.max until nothing of
theirs could start, not even the tmux client that ends a console. bwrap marks itself dumpable,
so an unreadable bwrap binary does not protect it; /proc/1/mem is masked by the sandbox's
view instead (sandbox.py). On x86_64 the x32 ABI is killed outright and i386 calls are
filtered too, so the filter cannot be sidestepped by switching syscall ABI. Handed to bwrap
with --seccomp.
"""

from __future__ import annotations

import platform
import struct
from dataclasses import dataclass

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JSET_K = 0x45
BPF_RET_K = 0x06

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM = 1

TIOCSTI = 0x5412
TIOCLINUX = 0x541C
X32_SYSCALL_BIT = 0x40000000

# seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
OFFSET_NR = 0
OFFSET_ARCH = 4
# The kernel's ioctl takes `unsigned int cmd`: only the low 32 bits of args[1] count, so only
# they are compared (a request with junk in the high bits still reaches TIOCSTI). Pids are
# ints too: ptrace's is args[1], process_vm_readv/writev's args[0].
OFFSET_ARG0_LOW = 16
OFFSET_ARG1_LOW = 16 + 8 * 1
SANDBOX_INIT_PID = 1


@dataclass(frozen=True)
class Arch:
    audit_arch: int
    ioctl: int
    ptrace: int
    process_vm_readv: int
    process_vm_writev: int
    has_x32: bool = False  # the native ABI with an x32 twin


ARCHES = {
    "x86_64": [Arch(0xC000003E, 16, 101, 310, 311, True), Arch(0x40000003, 54, 26, 347, 348)],
    "aarch64": [Arch(0xC00000B7, 29, 117, 270, 271), Arch(0x40000028, 54, 26, 376, 377)],
}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """The filter program, as bwrap --seccomp expects it (struct sock_filter[])."""
    arches = ARCHES.get(machine or platform.machine())
    if arches is None:
        raise RuntimeError(f"no seccomp filter for {machine or platform.machine()}")
    program: list[bytes] = [_insn(BPF_LD_W_ABS, OFFSET_ARCH)]
    blocks: list[tuple[int, list[tuple]]] = []
    for arch in arches:
        block: list[tuple] = [("ld", OFFSET_NR)]
        if arch.has_x32:
            block.append(("jset", X32_SYSCALL_BIT, "kill", None))
        block += [
            ("jeq", arch.ioctl, None, "not_ioctl"),
            ("ld", OFFSET_ARG1_LOW),
            ("jeq", TIOCSTI, "deny", None),
            ("jeq", TIOCLINUX, "deny", "allow"),
            ("label", "not_ioctl"),
            ("jeq", arch.ptrace, None, "not_ptrace"),
            ("ld", OFFSET_ARG1_LOW),
            ("jeq", SANDBOX_INIT_PID, "deny", "allow"),
            ("label", "not_ptrace"),
            ("jeq", arch.process_vm_readv, "process_vm", None),
            ("jeq", arch.process_vm_writev, None, "allow"),
            ("label", "process_vm"),
            ("ld", OFFSET_ARG0_LOW),
            ("jeq", SANDBOX_INIT_PID, "deny", "allow"),
        ]
        blocks.append((arch.audit_arch, block))
    return b"".join(program + _assemble(blocks))


def _assemble(blocks: list) -> list[bytes]:
    # Layout: [arch dispatch jeqs] [block per arch]... [kill] [deny] [allow]
    # ("label", name) marks a block-local jump target and emits no instruction.
    dispatch_len = len(blocks) + 1  # one jeq per arch, then a fall-through to kill
    offsets = []
    local_labels: list[dict[str, int]] = []
    position = dispatch_len
    for _, block in blocks:
        offsets.append(position)
        local: dict[str, int] = {}
        for op in block:
            if op[0] == "label":
                local[op[1]] = position
            else:
                position += 1
        local_labels.append(local)
    final = {"kill": position, "deny": position + 1, "allow": position + 2}
    out: list[bytes] = []
    for index, (audit_arch, _) in enumerate(blocks):
        out.append(_insn(BPF_JEQ_K, audit_arch, jt=offsets[index] - index - 1, jf=0))
    out.append(_insn(0x05, final["kill"] - (dispatch_len - 1) - 1))  # BPF_JMP|BPF_JA
    for block_index, (_, block) in enumerate(blocks):
        pc = offsets[block_index]
        labels = {**final, **local_labels[block_index]}
        for op in block:
            if op[0] == "label":
                continue
            if op[0] == "ld":
                out.append(_insn(BPF_LD_W_ABS, op[1]))
            else:
                code = BPF_JSET_K if op[0] == "jset" else BPF_JEQ_K

                def jump(target, pc=pc, labels=labels):
                    return 0 if target is None else labels[target] - pc - 1

                out.append(_insn(code, op[1], jt=jump(op[2]), jf=jump(op[3])))
            pc += 1
    out += [
        _insn(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        _insn(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM),
        _insn(BPF_RET_K, SECCOMP_RET_ALLOW),
    ]
    return out
