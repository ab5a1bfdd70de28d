"""uvicorn under a small supervisor that restarts its workers warm-first on SIGHUP.

    python -m config.serve [uvicorn's options] config.asgi:application

The options are uvicorn's own (--host, --port, --workers N, --lifespan on, ...). This process
holds the listening socket and runs N uvicorn worker processes on it. On SIGHUP (systemctl
reload, deploy/upgrade asgi) it starts N new workers with the code now on disk, waits until
each is *ready* (its lifespan startup has warmed Django: config/lifespan.py, and it listens),
and only then stops the old ones (SIGTERM): no moment without a warm worker. A new worker not
ready within --timeout-worker-healthcheck seconds aborts the restart, the old ones serving on.

A worker stopping first stops listening, then runs config.lifespan's shutdown hooks (consoles
hand their tmux attach clients back to the agent and close with 1012, so the pages reconnect
at once to a new worker, which takes those clients), then lets uvicorn close the rest.

uvicorn's own --workers supervisor restarts on SIGHUP too, but counts a worker ready as soon
as its process answers, before Django is imported, and closes the old worker's websockets
without the hooks. SIGTERM/SIGINT stop everything; a worker that dies is replaced (after a
growing delay if they keep dying young).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time

import uvicorn

uvicorn_main = importlib.import_module("uvicorn.main")  # the module (uvicorn.main is its command)

logger = logging.getLogger("config.serve")
spawn = multiprocessing.get_context("spawn")
STOP_GRACE_EXTRA = 5
# A worker that dies soon after the one before it in its slot (broken code on disk, a bad
# setting) is replaced after a delay doubling from BACKOFF_FIRST up to BACKOFF_MAX, not every
# loop: a crash loop must not spin the CPU and flood the log. One that served for HEALTHY_SECONDS
# before dying is replaced at once.
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
HEALTHY_SECONDS = 60.0


class WarmServer(uvicorn.Server):
    """A worker's uvicorn server: says when it is ready; runs the shutdown hooks first."""

    def __init__(self, config: uvicorn.Config, ready) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit and self.ready is not None:
            self.ready.send("ready")
            self.ready.close()
            self.ready = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections here: the new workers take them
        from config import lifespan

        await lifespan.run_shutdown_hooks()
        await super().shutdown(sockets)


def worker_main(config: uvicorn.Config, sockets: list[socket.socket], ready) -> None:
    """A worker process: uvicorn serving the shared socket (spawned, so it imports anew)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's signal, not ours
    config.configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        WarmServer(config, ready).run(sockets=sockets)


class Worker:
    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], quick_deaths: int = 0
    ) -> None:
        self.ready, child_end = spawn.Pipe(duplex=False)
        self.process = spawn.Process(
            target=worker_main, kwargs={"config": config, "sockets": sockets, "ready": child_end}
        )
        self.process.start()
        child_end.close()
        self.is_ready = False
        self.started = time.monotonic()
        self.quick_deaths = quick_deaths  # in a row in its slot, counting its own once dead
        self.replace_at: float | None = None


def replacement_delay(quick_deaths: int) -> float:
    """Seconds before a dead worker is replaced, after ``quick_deaths`` quick deaths in a row."""
    if quick_deaths <= 1:
        return 0.0
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (quick_deaths - 2))


class Supervisor:
    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        self.count = max(1, config.workers or 1)
        self.sockets = [config.bind_socket()]
        self.workers: list[Worker] = []
        self.reload = threading.Event()
        self.exit = threading.Event()

    def start_workers(self) -> list[Worker]:
        return [Worker(self.config, self.sockets) for _ in range(self.count)]

    def wait_ready(self, workers: list[Worker], timeout: float) -> bool:
        """Whether every worker said it is ready within ``timeout`` (False if one died)."""
        deadline = time.monotonic() + timeout
        while not all(worker.is_ready for worker in workers):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.exit.is_set():
                return False
            waiting = {w.ready: w for w in workers if not w.is_ready}
            sentinels = {w.process.sentinel: w for w in workers if not w.is_ready}
            for done in multiprocessing.connection.wait([*waiting, *sentinels], min(remaining, 1)):
                if done in waiting:
                    try:
                        waiting[done].ready.recv()
                    except EOFError:
                        return False  # it died before it was ready
                    waiting[done].is_ready = True
                else:
                    return False
        return True

    def stop(self, workers: list[Worker]) -> None:
        """SIGTERM each, then wait for them to drain (KILL after the graceful timeout)."""
        for worker in workers:
            if worker.process.is_alive():
                worker.process.terminate()
        grace = (self.config.timeout_graceful_shutdown or 30) + STOP_GRACE_EXTRA
        deadline = time.monotonic() + grace
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                logger.warning("worker %s did not stop in %s s: killed", worker.process.pid, grace)
                worker.process.kill()
                worker.process.join()

    def restart(self) -> None:
        """Warm-first: new workers ready, then the old ones stopped."""
        started = time.monotonic()
        logger.info("rolling restart: starting %d new workers", self.count)
        new = self.start_workers()
        if not self.wait_ready(new, self.config.timeout_worker_healthcheck):
            logger.error(
                "rolling restart aborted: the new workers were not ready within %s s",
                self.config.timeout_worker_healthcheck,
            )
            self.stop(new)
            return
        old, self.workers = self.workers, new
        logger.info(
            "new workers ready after %.1f s; stopping the old ones", time.monotonic() - started
        )
        self.stop(old)
        logger.info("rolling restart done in %.1f s", time.monotonic() - started)

    def replace_dead(self) -> None:
        now = time.monotonic()
        for index, worker in enumerate(self.workers):
            if worker.process.is_alive():
                continue
            if worker.replace_at is None:  # first seen dead
                lived = now - worker.started
                worker.quick_deaths = worker.quick_deaths + 1 if lived < HEALTHY_SECONDS else 1
                worker.replace_at = now + replacement_delay(worker.quick_deaths)
                logger.warning(
                    "worker %s died (exit %s) after %.1f s: replaced in %.1f s",
                    worker.process.pid,
                    worker.process.exitcode,
                    lived,
                    worker.replace_at - now,
                )
            if now >= worker.replace_at:
                self.workers[index] = Worker(self.config, self.sockets, worker.quick_deaths)

    def run(self) -> int:
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.exit.set())
        logger.info("config.serve %s: %d workers on %s", os.getpid(), self.count, self._where())
        self.workers = self.start_workers()
        if not self.wait_ready(self.workers, self.config.timeout_worker_healthcheck):
            logger.error("the workers did not become ready")
        while not self.exit.is_set():
            if self.reload.is_set():
                self.reload.clear()
                self.restart()
                continue
            self.replace_dead()
            self.exit.wait(0.2)
        logger.info("stopping")
        self.stop(self.workers)
        for sock in self.sockets:
            sock.close()
        return 0

    def _where(self) -> str:
        if self.config.uds:
            return self.config.uds
        return f"{self.config.host}:{self.config.port}"


def parse(argv: list[str]) -> uvicorn.Config:
    """uvicorn's own command line, into its Config."""
    context = uvicorn_main.main.make_context("config.serve", list(argv))
    params = dict(context.params)
    app = params.pop("app")
    app_dir = params.pop("app_dir", None)
    if app_dir is not None:
        sys.path.insert(0, app_dir)
    if params.get("reload"):
        raise SystemExit("config.serve: --reload is not supported (run uvicorn itself)")
    return uvicorn.Config(app, **params)


def main(argv: list[str] | None = None) -> int:
    config = parse(sys.argv[1:] if argv is None else argv)
    # uvicorn's command line configures no logging by default (Django's does, in the workers).
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return Supervisor(config).run()


if __name__ == "__main__":
    # As config.serve, not __main__: the spawned workers import worker_main by that name.
    from config import serve

    sys.exit(serve.main())
