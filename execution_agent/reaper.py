"""Reap background children (spawned sandboxes, tmux servers, attach clients) from one thread.

A waitpid(-1) loop would steal the exit status of `run` children that their request thread is
waiting for, so each background child is watched through its own pidfd instead.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import threading


class Reaper:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._pending: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)
        self._thread.start()

    def watch(self, process: subprocess.Popen) -> None:
        """Reap process when it exits."""
        with self._lock:
            self._pending.append(process)
        os.write(self._wake_w, b"x")

    def _adopt_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for process in pending:
            try:
                fd = os.pidfd_open(process.pid)
            except ProcessLookupError:
                process.poll()
                continue
            self._selector.register(fd, selectors.EVENT_READ, process)

    def _loop(self) -> None:
        while True:
            for key, _ in self._selector.select():
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                    self._adopt_pending()
                    continue
                self._selector.unregister(key.fd)
                os.close(key.fd)
                key.data.wait()
