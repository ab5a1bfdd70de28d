"""The user's downtime when their home moves to another file server, beside a plain copy.

    python -m bench.move_user   # as root; BENCH_HOME_MB=1024 (the home), BENCH_CONSOLES=2

Two real fileserver agents on this machine, each with homes and web roots of its own (under
/var/tmp: disk, not tmpfs), and a real execution agent seeing the first one's homes (as NFS
would). A user on the first with a home of BENCH_HOME_MB (90% in 1 MiB files, 10% in 10 KiB
ones), BENCH_CONSOLES bash consoles running, and a thread writing into the home while the
first passes run (the user keeps working), until the move stops their processes.

Warren: files.moves.home_move_run, as the worker runs it: copy passes while the user works,
then the downtime (stop the consoles and processes, final pass, registry switch, quota applied
on the new server, consoles started again), as the move records it in
``HomeMove.downtime_seconds``. The execution agent sees the homes as with several file servers
(``WARREN_FILESERVER_MOUNTS``): each server's homes root is its "mount", and the user's home on
the execution server a bind of it, switched by the move (op ``home_mount_set``) before the
consoles start again; the bench checks the home there is the second server's copy after.

Anchor, in the same run: what a move without passes costs the user, one full
``rsync -aHXAS --delete --numeric-ids`` of the same home to an empty place (stop, copy
everything, switch). Ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOME_MB = int(os.environ.get("BENCH_HOME_MB", "1024"))
CONSOLES = int(os.environ.get("BENCH_CONSOLES", "2"))
UID_BASE = 3_000_000 + (os.getpid() % 5000) * 10_000
SECRET = "bench-" + secrets.token_hex(16)


def setup_django(var: Path, harness) -> None:
    os.environ["WARREN_VAR_DIR"] = str(var)
    os.environ["WARREN_EXEC_AGENT_SOCKET"] = str(harness.socket_path)
    os.environ["WARREN_HOMES_ROOT"] = str(harness.homes)
    os.environ["WARREN_WWW_ROOT"] = str(harness.www)
    os.environ["WARREN_RUN_DIR"] = str(harness.run_dir)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{var}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["WARREN_UID_BASE"] = str(UID_BASE)
    os.environ["WARREN_AGENT_SECRETS"] = SECRET
    # No worker: the queued task waits in the var dir's broker; the bench runs the move itself.
    os.environ["WARREN_CELERY_EAGER"] = "0"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_agent(root: Path, homes: Path, www: Path):
    from fileserver_agent.testing import AgentProcess, du_agent_environment

    for path in (homes, www):
        path.mkdir(parents=True, exist_ok=True)
    env = du_agent_environment(
        homes=homes,
        www=www,
        state=root / "state",
        secret=SECRET,
        min_uid=UID_BASE,
    )
    return AgentProcess(env, root / "logs").start()


def fill_home(home: Path, uid: int, megabytes: int) -> int:
    """Write the home's files (90% of the bytes in 1 MiB files); returns the file count."""
    big = os.urandom(1024 * 1024)
    small = os.urandom(10 * 1024)
    count = 0
    for index in range(megabytes * 9 // 10):
        folder = home / "data" / f"{index // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"blob{index}.bin").write_bytes(big[index % 7 :] + big[: index % 7])
        count += 1
    for index in range(megabytes * 1024 // 10 // 10):
        folder = home / "project" / f"{index // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{index}.py").write_bytes(small)
        count += 1
    subprocess.run(["chown", "-R", f"{uid}:{uid}", str(home)], check=True)
    return count


def keep_working(home: Path, uid: int, move_id: int, stop: threading.Event) -> int:
    """Append to a log in the home until the move's final pass begins; lines written."""
    from files.models import HomeMove

    log = home / "work.log"
    written = 0
    while not stop.is_set():
        state = HomeMove.objects.filter(pk=move_id).values_list("state", flat=True).first()
        if state in (HomeMove.State.SWITCHING, HomeMove.State.DONE, HomeMove.State.FAILED):
            break
        with open(log, "a") as handle:
            handle.write(f"line {written} {time.time()}\n" * 100)
        os.chown(log, uid, uid)
        written += 100
        time.sleep(0.05)
    return written


def main() -> int:
    if os.geteuid() != 0:
        print("run as root: the agents chown homes and rsync keeps owners", file=sys.stderr)
        return 2
    from execution_agent.testing.harness import AgentHarness

    base = Path(tempfile.mkdtemp(prefix="bench-move-", dir="/var/tmp"))
    os.chmod(base, 0o755)  # noqa: S103 - users' sandboxes traverse it to their homes
    harness = AgentHarness(
        uid_base=UID_BASE, cgroup_prefix=f"warren-bench-move-{os.getpid()}", allowed_uids=(0,)
    )
    # Each file server's homes root stands for its NFS mount on the execution server; the
    # agent's homes root holds one bind per user (WARREN_FILESERVER_MOUNTS).
    harness.homes, harness.www = base / "exec-homes", base / "a" / "www"
    harness.fileserver_mounts = {"fs-1": base / "a" / "homes", "fs-2": base / "b" / "homes"}
    for path in (harness.homes, *harness.fileserver_mounts.values()):
        path.mkdir(parents=True, exist_ok=True)
    os.environ["WARREN_FILESERVER_MOUNTS"] = ",".join(
        f"{name}={path}" for name, path in harness.fileserver_mounts.items()
    )
    agents = []
    try:
        harness.start()
        setup_django(base / "var", harness)
        from django.db import connection

        from accounts.models import Plan, User
        from consoles import services as consoles
        from consoles.models import Console
        from files import moves, services
        from servers.models import Server
        from servers.services import servers_register_local

        servers_register_local()
        agents = [
            start_agent(base / "a", base / "a" / "homes", harness.www),
            start_agent(base / "b", base / "b" / "homes", base / "b" / "www"),
        ]
        servers = [
            Server.objects.create(kind="file", hostname=f"fs-{n}", fileserver_agent_url=a.url)
            for n, a in zip("12", agents, strict=True)
        ]
        user = User.objects.create(
            username="mover", email="m@example.com", plan=Plan.objects.order_by("-pk").first()
        )
        User.objects.filter(pk=user.pk).update(file_server=servers[0])
        user.refresh_from_db()
        services.home_create(user=user)
        home = base / "a" / "homes" / "mover"
        files = fill_home(home, user.uid, HOME_MB)
        size = int(
            subprocess.run(
                ["du", "-sb", str(home)], capture_output=True, text=True, check=True
            ).stdout.split()[0]
        )
        subprocess.run(["sync"], check=True)
        running = [
            consoles.console_start(owner=user, kind=Console.Kind.BASH) for _ in range(CONSOLES)
        ]

        # Anchor: stop, copy it all, switch.
        anchor_target = base / "anchor" / "mover"
        anchor_target.parent.mkdir()
        started = time.perf_counter()
        subprocess.run(
            ["rsync", "-aHXAS", "--delete", "--numeric-ids", f"{home}/", f"{anchor_target}/"],
            check=True,
        )
        anchor = time.perf_counter() - started
        shutil.rmtree(anchor_target)
        subprocess.run(["sync"], check=True)

        move = moves.home_move_start(user=user, target=servers[1])
        stop = threading.Event()
        lines = []

        def writer():
            lines.append(keep_working(home, user.uid, move.pk, stop))
            connection.close()

        thread = threading.Thread(target=writer)
        thread.start()
        started = time.perf_counter()
        moves.home_move_run(move_id=move.pk)
        total = time.perf_counter() - started
        stop.set()
        thread.join()
        move.refresh_from_db()
        assert move.state == "done", move.error
        restarted = Console.objects.filter(
            pk__in=[c.pk for c in running], state=Console.State.RUNNING
        ).count()
        assert restarted == len(running), f"{restarted} of {len(running)} consoles restarted"
        check = subprocess.run(
            ["rsync", "-aHXAScni", "--delete", f"{home}/", f"{base}/b/homes/mover/"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert not [x for x in check.stdout.splitlines() if not x.startswith(".d..t")], (
            check.stdout[:500]
        )
        seen, moved = (harness.homes / "mover").stat(), (base / "b" / "homes" / "mover").stat()
        assert (seen.st_dev, seen.st_ino) == (moved.st_dev, moved.st_ino), "home not switched"
        result = {
            "home_bytes": size,
            "files": files,
            "lines_written_during_copy": lines[0] if lines else 0,
            "passes": move.passes,
            "consoles_restarted": restarted,
            "move_total_seconds": round(total, 2),
            "warren_downtime_seconds": round(move.downtime_seconds, 3),
            "anchor_full_copy_seconds": round(anchor, 3),
            "ratio_warren_to_anchor": round(move.downtime_seconds / anchor, 3),
        }
        print(
            f"home {size / 2**30:.2f} GiB, {files} files, {restarted} consoles; {move.passes} "
            f"passes in {total:.1f} s while the user wrote {result['lines_written_during_copy']} "
            "lines"
        )
        print(
            f"downtime: Warren {move.downtime_seconds:.2f} s   anchor (stop + full rsync) "
            f"{anchor:.2f} s   ratio {result['ratio_warren_to_anchor']:.3f}   (aim: < 10 s)"
        )
        print(json.dumps(result))
        return 0
    finally:
        for agent in agents:
            agent.stop()
        harness.cleanup()
        subprocess.run(["umount", "-l", str(harness.homes / "mover")], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
