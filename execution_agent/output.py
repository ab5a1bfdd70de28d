"""Collect a child's output with a cap, feeding its stdin, under a deadline."""

from __future__ import annotations

import os
import selectors
import subprocess
import time

OUTPUT_CAP = 1 << 20


def collect_output(
    process: subprocess.Popen, stdin_bytes: bytes | None, timeout: float
) -> tuple[bytes, bytes, bool]:
    """Feed stdin and collect output (keeping one byte past the cap to flag truncation)."""
    selector = selectors.DefaultSelector()
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    buffers = {out_fd: bytearray(), err_fd: bytearray()}
    for stream in (process.stdout, process.stderr):
        selector.register(stream.fileno(), selectors.EVENT_READ)
    pending = memoryview(stdin_bytes or b"")
    in_fd = process.stdin.fileno() if process.stdin is not None else None
    if in_fd is not None:
        os.set_blocking(in_fd, False)
        selector.register(in_fd, selectors.EVENT_WRITE)
    deadline = time.monotonic() + timeout
    timed_out = False
    while selector.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            # --die-with-parent: killing the outer bwrap takes the whole sandbox with it.
            process.kill()
            break
        for key, _ in selector.select(remaining):
            if key.fd == in_fd:
                try:
                    pending = pending[os.write(key.fd, pending[:65536]) :]
                except BrokenPipeError:
                    pending = pending[:0]
                if not pending:
                    selector.unregister(key.fd)
                    process.stdin.close()
                continue
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
            elif len(buffers[key.fd]) <= OUTPUT_CAP:
                buffers[key.fd] += chunk
    selector.close()
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None and not stream.closed:
            stream.close()
    return bytes(buffers[out_fd]), bytes(buffers[err_fd]), timed_out
