"""A hand-assembled classic BPF seccomp filter that forbids terminal input injection.

Denies ioctl(TIOCSTI) and ioctl(TIOCLINUX) with EPERM (TIOCSTI pushes bytes into a terminal's
input queue: a sandboxed process sharing a terminal with a more privileged one could type
commands into it). On x86_64 the x32 ABI is killed outright and i386 calls are filtered too,
so the filter cannot be sidestepped by switching syscall ABI. Handed to bwrap with --seccomp.
"""

from __future__ import annotations

import platform
import struct

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
# they are compared (a request with junk in the high bits still reaches TIOCSTI).
OFFSET_ARG1_LOW = 16 + 8 * 1

# (audit arch, ioctl syscall number, is the native ABI with an x32 twin)
ARCHES = {
    "x86_64": [(0xC000003E, 16, True), (0x40000003, 54, False)],  # x86_64, i386
    "aarch64": [(0xC00000B7, 29, False), (0x40000028, 54, False)],  # aarch64, arm
}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """The filter program, as bwrap --seccomp expects it (struct sock_filter[])."""
    arches = ARCHES.get(machine or platform.machine())
    if arches is None:
        raise RuntimeError(f"no seccomp filter for {machine or platform.machine()}")
    program: list[bytes] = [_insn(BPF_LD_W_ABS, OFFSET_ARCH)]
    blocks: list[list[tuple]] = []
    for audit_arch, ioctl_nr, has_x32 in arches:
        block: list[tuple] = [("ld", OFFSET_NR)]
        if has_x32:
            block.append(("jset", X32_SYSCALL_BIT, "kill", None))
        block += [
            ("jeq", ioctl_nr, None, "allow"),
            ("ld", OFFSET_ARG1_LOW),
            ("jeq", TIOCSTI, "deny", None),
            ("jeq", TIOCLINUX, "deny", "allow"),
        ]
        blocks.append((audit_arch, block))
    return b"".join(program + _assemble(blocks))


def _assemble(blocks: list) -> list[bytes]:
    # Layout: [arch dispatch jeqs] [block per arch]... [kill] [deny] [allow]
    dispatch_len = len(blocks) + 1  # one jeq per arch, then a fall-through to kill
    offsets = []
    position = dispatch_len
    for _, block in blocks:
        offsets.append(position)
        position += len(block)
    labels = {"kill": position, "deny": position + 1, "allow": position + 2}
    out: list[bytes] = []
    for index, (audit_arch, _) in enumerate(blocks):
        out.append(_insn(BPF_JEQ_K, audit_arch, jt=offsets[index] - index - 1, jf=0))
    out.append(_insn(0x05, labels["kill"] - (dispatch_len - 1) - 1))  # BPF_JMP|BPF_JA
    for block_index, (_, block) in enumerate(blocks):
        pc = offsets[block_index]
        for op in block:
            if op[0] == "ld":
                out.append(_insn(BPF_LD_W_ABS, op[1]))
            else:
                code = BPF_JSET_K if op[0] == "jset" else BPF_JEQ_K

                def jump(target, pc=pc):
                    return 0 if target is None else labels[target] - pc - 1

                out.append(_insn(code, op[1], jt=jump(op[2]), jf=jump(op[3])))
            pc += 1
    out += [
        _insn(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        _insn(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM),
        _insn(BPF_RET_K, SECCOMP_RET_ALLOW),
    ]
    return out
