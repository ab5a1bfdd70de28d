"""Warren's scheduler beside a crond-style loop, in one run on this machine.

    python -m bench.tasks        # as root; BENCH_TASKS=100000 BENCH_DUE=1000 BENCH_WORKERS=4

Warren's path, all real: PostgreSQL (a throw-away database; BENCH_DATABASE_URL to choose
another server), BENCH_TASKS scheduled tasks of which BENCH_DUE are due in the same minute,
Redis as the broker (REDIS_URL, default db 12), a Celery worker consuming the task server's
exec.<hostname> queue with BENCH_WORKERS processes, and a real execution agent starting each
run in the user's bubblewrap sandbox and cgroup. At the minute's start the bench calls what
beat calls (schedules.tasks.dispatch_due_tasks' service): the due query, the claims and the
messages; each run's command records the moment it starts ($EPOCHREALTIME, no fork).

The anchor: cron is not installed here, so a minimal crond-style loop stands in for it: it
sleeps until the next minute's start and forks the same commands with bash, as the same users,
with no sandbox, no database and no broker (what cron does with a crontab line). Its delays
are measured the same way, so the ratio is Warren's overhead over bare forks.

Printed: the due query's time (median of 20, and its plan), the whole dispatch's time, and
for both paths the delay from the minute's start to each command starting (p50, p95, max).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from execution_agent.testing.harness import AgentHarness, random_uid_base

REPO = Path(__file__).resolve().parent.parent
TASKS = int(os.environ.get("BENCH_TASKS", "100000"))
DUE = int(os.environ.get("BENCH_DUE", "1000"))
USERS = int(os.environ.get("BENCH_USERS", "100"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
HOSTNAME = "bench-tasks"
# Runs of the same command on both paths: one line per start, no fork before it is written.
COMMAND = 'echo "$WARREN_TAG_ID $EPOCHREALTIME" >> ~/started.txt'


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(samples: list[float]) -> str:
    return (
        f"p50 {percentile(samples, 0.5):6.2f} s  p95 {percentile(samples, 0.95):6.2f} s  "
        f"max {max(samples):6.2f} s  ({len(samples)} started)"
    )


def sleep_until(moment: float) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(min(left, 0.5) if left > 0.01 else left)


def next_minute(after: float, *, at_least: float) -> float:
    """The first minute boundary at least ``at_least`` seconds after ``after``."""
    return (int((after + at_least) // 60) + 1) * 60.0


# --- the database ---------------------------------------------------------------------------


def make_database() -> tuple[str, str | None]:
    """A throw-away PostgreSQL database; returns (its URL, the name to drop afterwards)."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"], None
    import psycopg

    name = f"bench_tasks_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}", name


def drop_database(name: str | None) -> None:
    if name is None:
        return
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(harness: AgentHarness, database_url: str) -> None:
    os.environ["WARREN_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-tasks-var-")
    os.environ["WARREN_UID_BASE"] = str(harness.uid_base)
    os.environ["WARREN_EXEC_AGENT_SOCKET"] = str(harness.socket_path)
    os.environ["WARREN_HOMES_ROOT"] = str(harness.homes)
    os.environ["WARREN_WWW_ROOT"] = str(harness.www)
    os.environ["WARREN_LOCAL_HOSTNAMES"] = HOSTNAME
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(harness: AgentHarness, minute: datetime) -> list:
    """USERS users with homes, TASKS tasks; DUE of them at ``minute``, the rest later today."""
    from accounts.models import Plan, User
    from schedules.models import ScheduledTask
    from servers.models import Server

    server = Server.objects.create(
        kind=Server.Kind.TASK, hostname=HOSTNAME, execution_agent_socket=str(harness.socket_path)
    )
    plan = Plan.objects.get(slug="hacker")
    users = User.objects.bulk_create(
        User(pk=number, username=f"bench-{number:04d}", plan=plan) for number in range(1, USERS + 1)
    )
    for user in users:
        harness.user(user.pk, user.username, www=False)
    picker = random.Random(42)
    rows = []
    for number in range(TASKS):
        due = number < DUE
        later = minute + timedelta(minutes=picker.randrange(1, 24 * 60))
        when = minute if due else later
        rows.append(
            ScheduledTask(
                owner=users[number % USERS],
                server=server,
                command=COMMAND if due else "true",
                interval="daily",
                hour=when.hour,
                minute=when.minute,
                next_run_at=when,
            )
        )
    ScheduledTask.objects.bulk_create(rows, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return users


def time_due_query(minute: datetime) -> tuple[float, str]:
    from django.db import connection

    from schedules.selectors import tasks_due

    samples = []
    for _ in range(20):
        started = time.perf_counter()
        found = list(tasks_due(now=minute).values_list("pk", "next_run_at"))
        samples.append((time.perf_counter() - started) * 1000)
    assert len(found) == DUE, len(found)
    plan = ""
    if connection.vendor == "postgresql":
        plan = tasks_due(now=minute).explain(analyze=True)
    return statistics.median(samples), plan


# --- the two paths ----------------------------------------------------------------------------


def start_worker(harness: AgentHarness) -> subprocess.Popen:
    log = open(harness.base / "celery.log", "ab")  # noqa: SIM115 - closed with the bench
    worker = subprocess.Popen(
        [
            str(REPO / ".venv/bin/celery"),
            "-A",
            "config",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(WORKERS),
            "--queues",
            f"exec.{HOSTNAME}",
            "--hostname",
            f"bench-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=log,
        stderr=log,
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while not (app.control.ping(timeout=1) or []):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((harness.base / "celery.log").read_text()[-3000:])
    return worker


def starts(harness: AgentHarness, users, expected: int, timeout: float) -> list[float]:
    """Every start time the commands wrote, waiting until ``expected`` are in."""
    deadline = time.monotonic() + timeout
    while True:
        moments = []
        for user in users:
            path = harness.homes / user.username / "started.txt"
            with contextlib.suppress(FileNotFoundError):
                moments += [float(line.split()[-1]) for line in path.read_text().splitlines()]
        if len(moments) >= expected or time.monotonic() > deadline:
            return moments
        time.sleep(0.2)


def warren_minute(harness, users, minute_start: float) -> tuple[list[float], float, float]:
    from django.utils import timezone

    from schedules.services import task_results_record, tasks_dispatch_due
    from servers.models import Server

    sleep_until(minute_start)
    began = time.perf_counter()
    dispatched = tasks_dispatch_due(now=timezone.now())
    dispatch_ms = (time.perf_counter() - began) * 1000
    assert len(dispatched) == DUE, len(dispatched)
    moments = starts(harness, users, DUE, timeout=300)
    server = Server.objects.get(hostname=HOSTNAME)
    began = time.perf_counter()
    recorded = 0
    while recorded < DUE and time.perf_counter() - began < 120:
        recorded += task_results_record(server=server, now=timezone.now())
    collect_ms = (time.perf_counter() - began) * 1000
    for user in users:
        with contextlib.suppress(FileNotFoundError):
            (harness.homes / user.username / "started.txt").unlink()
    return [moment - minute_start for moment in moments], dispatch_ms, collect_ms


def crond_minute(harness, users, minute_start: float) -> list[float]:
    """What cron does at a minute with DUE crontab lines: fork each, as its user."""
    jobs = [users[number % USERS] for number in range(DUE)]
    sleep_until(minute_start)
    children = []
    for number, user in enumerate(jobs):
        home = harness.homes / user.username
        children.append(
            subprocess.Popen(
                ["/bin/bash", "-c", COMMAND],
                cwd=home,
                env={"HOME": str(home), "PATH": "/usr/bin:/bin", "WARREN_TAG_ID": f"cron.{number}"},
                user=harness.uid_base + user.pk,
                group=harness.uid_base + user.pk,
                extra_groups=[],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    for child in children:
        child.wait()
    return [moment - minute_start for moment in starts(harness, users, DUE, timeout=60)]


def main() -> int:
    if os.geteuid() != 0:
        print("bench.tasks needs root (bubblewrap as users, cgroups)")
        return 1
    harness = AgentHarness(
        uid_base=random_uid_base(), cgroup_prefix=f"warren-bench-{uuid.uuid4().hex[:8]}"
    )
    harness.start()
    database_url, made = make_database()
    worker = None
    try:
        setup_django(harness, database_url)
        minute_start = next_minute(time.time(), at_least=float(os.environ.get("BENCH_LEAD", "90")))
        minute = datetime.fromtimestamp(minute_start, UTC)
        began = time.perf_counter()
        users = fill(harness, minute)
        print(f"{TASKS} tasks of {USERS} users, {DUE} due at {minute:%H:%M} UTC "
              f"(filled in {time.perf_counter() - began:.1f} s)")  # fmt: skip
        query_ms, plan = time_due_query(minute)
        print(f"due query: {query_ms:.2f} ms (median of 20; aim < 50 ms)")
        if plan:
            print("plan:\n  " + plan.replace("\n", "\n  "))
        worker = start_worker(harness)
        if time.time() > minute_start - 5:
            raise RuntimeError("setup took past the minute; raise at_least")
        warren, dispatch_ms, collect_ms = warren_minute(harness, users, minute_start)
        print(f"dispatch (due query, {DUE} claims, {DUE} messages): {dispatch_ms:.0f} ms")
        print(f"warren  start delay: {summary(warren)}  [{WORKERS} exec worker processes]")
        print(f"results recorded in {collect_ms:.0f} ms")
        anchor = crond_minute(harness, users, next_minute(time.time(), at_least=1))
        print(f"crond   start delay: {summary(anchor)}  [a crond-style loop: cron not installed]")
        ratio = percentile(warren, 0.95) / max(percentile(anchor, 0.95), 1e-6)
        within = sum(1 for delay in warren if delay <= 10)
        print(f"p95 ratio Warren/crond: {ratio:.1f}; Warren started {within}/{DUE} within 10 s")
        print(json.dumps({"bench": "tasks", "metrics": {
            "due_query_ms": {"warren": round(query_ms, 2), "aim": 50, "unit": "ms"},
            "start_delay_p50": {"warren": round(percentile(warren, 0.5), 2),
                                "anchor": round(percentile(anchor, 0.5), 2), "unit": "s"},
            "start_delay_p95": {"warren": round(percentile(warren, 0.95), 2),
                                "anchor": round(percentile(anchor, 0.95), 2), "unit": "s"},
            "start_delay_max": {"warren": round(max(warren), 2),
                                "anchor": round(max(anchor), 2), "unit": "s"},
        }}))  # fmt: skip
    finally:
        if worker is not None:
            worker.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=20)
            if worker.poll() is None:
                worker.kill()
        from django.db import connections

        connections.close_all()
        harness.cleanup()
        drop_database(made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
