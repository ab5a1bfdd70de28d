"""Benchmark deploy/migrate/parallel-rsync against one rsync of the same homes, in one run.

Run as ``python -m bench.parallel_rsync``. Builds a synthetic volume of homes (default
2,000 homes of small files), then, in each scenario, copies it with a single
``rsync -aXAS --delete --numeric-ids`` of the whole tree (the anchor) and with
``parallel-rsync -j 30`` (its default: a few homes per rsync). On disk it also runs
``--homes-per-rsync 1``, the seed's one rsync per home.

Scenarios, because the seed's win depends on where the time goes:

* ``disk``: source and copy on this machine's disk (/var/tmp), source in the page cache.
* ``fsync``: the same with every file flushed before the next (``--fsync``), so each copy
  waits on storage latency, as on the seed's network-attached volumes.
* ``memory``: source and copy on tmpfs (/dev/shm): pure CPU, so at most the number of
  cores can be gained.

Every copy is checked against the anchor's copy. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PARALLEL_RSYNC = REPO_ROOT / "deploy" / "migrate" / "parallel-rsync"
RSYNC = ["rsync", "-aXAS", "--delete", "--numeric-ids"]


def build_volume(root: Path, homes: int, files_per_home: int) -> int:
    """Homes like a hosting platform's: a few small files in a couple of directories each."""
    created = 0
    payload = os.urandom(64 * 1024)
    for index in range(homes):
        home = root / f"user{index:05d}"
        project = home / "mysite" / "static"
        project.mkdir(parents=True)
        (home / "README.txt").write_text(f"Welcome to Warren, user{index:05d}!\n")
        for number in range(files_per_home):
            size = 512 + (index * 7919 + number * 104729) % 8192
            directory = project if number % 3 == 0 else home / "mysite"
            (directory / f"file{number}.py").write_bytes(payload[:size])
        created += files_per_home + 1
    return created


def timed(command: list[str], settle: Path) -> float:
    # Flush what earlier runs left dirty first, so no contender pays for another's writes.
    subprocess.run(["sync", "-f", str(settle)], check=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def identical(first: Path, second: Path) -> None:
    check = subprocess.run(
        [*RSYNC, "-ni", f"{first}/", f"{second}/"], capture_output=True, text=True, check=True
    )
    changed = [line for line in check.stdout.splitlines() if not line.startswith(".d..t")]
    assert not changed, f"the copies differ: {changed[:5]}"


def compare(source: Path, work: Path, workers: int, extra: list[str], per_home: bool) -> dict:
    """Copy ``source`` with one rsync, then with parallel-rsync; return the times."""
    anchor_copy = work / "copy-single"
    times = {"single": timed([*RSYNC, *extra, f"{source}/", f"{anchor_copy}/"], work)}
    print(f"  one rsync:                                 {times['single']:7.2f} s", flush=True)
    variants = [("parallel", [])] + ([("per_home", ["--homes-per-rsync", "1"])] if per_home else [])
    for name, options in variants:
        copy = work / f"copy-{name}"
        command = [
            sys.executable,
            str(PARALLEL_RSYNC),
            str(source),
            str(copy),
            "-j",
            str(workers),
            "--quiet",
            "--state-file",
            str(work / f"journal-{name}"),
            *options,
            *(f"--rsync-option={option}" for option in extra),
        ]
        times[name] = timed(command, work)
        label = f"parallel-rsync -j {workers} {' '.join(options)}".strip()
        print(
            f"  {label:<42} {times[name]:7.2f} s   speedup x{times['single'] / times[name]:.2f}",
            flush=True,
        )
        identical(anchor_copy, copy)
        shutil.rmtree(copy)
        (work / f"journal-{name}").unlink()
    shutil.rmtree(anchor_copy)
    return times


def scenario(
    name: str, base: str, args: argparse.Namespace, extra: list[str], per_home: bool
) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-parallel-rsync-", dir=base) as tmp:
        work = Path(tmp)
        source = work / "old-volume"
        started = time.perf_counter()
        files = build_volume(source, args.homes, args.files)
        print(
            f"scenario {name}: {args.homes} homes, {files} files built in "
            f"{time.perf_counter() - started:.1f} s under {work}",
            flush=True,
        )
        # Read the whole source once, so every contender finds it in the page cache.
        subprocess.run(
            [*RSYNC, "-n", f"{source}/", f"{work / 'nowhere'}/"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            ["cat", *map(str, source.rglob("*.py"))], check=True, stdout=subprocess.DEVNULL
        )
        return compare(source, work, args.workers, extra, per_home)


def metric(times: dict, key: str, anchor_name: str) -> dict:
    return {
        "warren": round(times[key], 3),
        "anchor": round(times["single"], 3),
        "unit": "s",
        "better": "lower",
        "anchor_name": anchor_name,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=2000, help="homes to build (2000)")
    parser.add_argument("--files", type=int, default=5, help="files per home (5)")
    parser.add_argument("--workers", type=int, default=30, help="parallel rsyncs (30)")
    args = parser.parse_args()
    if shutil.which("rsync") is None:
        raise SystemExit("bench.parallel_rsync needs rsync: apt-get install rsync")
    print(f"{os.cpu_count()} CPUs", flush=True)
    # /var/tmp, not /tmp: /tmp may be a tmpfs, where --fsync would cost nothing.
    disk = scenario("disk", "/var/tmp", args, [], per_home=True)
    durable = scenario("fsync", "/var/tmp", args, ["--fsync"], per_home=False)
    memory = scenario("memory", "/dev/shm", args, [], per_home=False)
    metrics = {
        "copy_seconds_disk": metric(disk, "parallel", "one rsync -aXAS of the whole tree"),
        "copy_seconds_disk_one_rsync_per_home": metric(
            disk, "per_home", "one rsync -aXAS of the whole tree"
        ),
        "copy_seconds_fsync": metric(durable, "parallel", "one rsync -aXAS --fsync"),
        "copy_seconds_memory": metric(memory, "parallel", "one rsync -aXAS on tmpfs"),
    }
    print(json.dumps({"bench": "parallel_rsync", "metrics": metrics}))


if __name__ == "__main__":
    main()
