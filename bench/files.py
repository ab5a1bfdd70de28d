"""Server time to list a 10,000-entry folder the way the Files tab does, beside os.scandir.

    python -m bench.files            # as root; BENCH_ROUNDS=20, BENCH_ENTRIES=10000

Warren's path is what a listing request costs the server before HTML: one `fs_list` request
to a real execution agent (connect, validate, act as the user, open the folder beneath the
home, scandir + lstat every entry, sort, JSON back) and Django's listing code
(`files.selectors.build_listing`: sort all entries folders first, then shape the first page
of 500 rows with sizes, times and URLs). A second Warren series adds rendering that page's
template: the whole server side of the request but for the session and usage lookups.
The anchor is a bare `os.scandir` of the same folder with an lstat of each entry (the same
facts, sorted by name), in this same process. The series are interleaved in one run.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
ENTRIES = int(os.environ.get("BENCH_ENTRIES", "10000"))
UID_BASE = 3_000_000 + (os.getpid() % 5000) * 10_000


def setup_django(harness) -> None:
    """Django settings pointed at the bench's agent; no database is touched."""
    os.environ.setdefault("WARREN_VAR_DIR", tempfile.mkdtemp(prefix="bench-files-var-"))
    os.environ["WARREN_UID_BASE"] = str(UID_BASE)
    os.environ["WARREN_EXEC_AGENT_SOCKET"] = str(harness.socket_path)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def make_folder(harness, user: dict) -> str:
    """A folder of ENTRIES files (a tenth of them folders), owned by the user."""
    folder = harness.homes / user["username"] / "big"
    folder.mkdir()
    for number in range(ENTRIES):
        path = folder / f"entry-{number:05d}{'' if number % 10 == 0 else '.txt'}"
        if number % 10 == 0:
            path.mkdir()
        else:
            path.write_bytes(b"x" * (number % 4096))
        os.chown(path, user["uid"], user["uid"])
    os.chown(folder, user["uid"], user["uid"])
    return str(folder)


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench.files needs root: the execution agent acts as the user")
    from execution_agent.testing.harness import AgentHarness

    harness = AgentHarness(uid_base=UID_BASE, cgroup_prefix=f"bench-files-{uuid.uuid4().hex[:8]}")
    harness.start()
    try:
        run(harness)
    finally:
        harness.cleanup()


def run(harness) -> None:
    setup_django(harness)
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from accounts.models import User
    from files.paths import Location
    from files.selectors import build_listing
    from files.views import browse_context

    user = harness.user(1, "bencher")
    folder = make_folder(harness, user)
    client = harness.client()
    location = Location("bencher", "home", ("big",))
    request = RequestFactory().get("/files/browse/home/bencher/big/")
    request.user = User(pk=1, username="bencher")

    def warren_listing():
        return build_listing(location, client.fs_list(user=user, path="big"))

    def warren_page() -> None:
        context = browse_context(request, warren_listing(), usage=None)
        render_to_string("files/browse.html", context, request=request)

    def bare_scandir() -> None:
        with os.scandir(folder) as entries:
            facts = [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]
        facts.sort()

    listing = warren_listing()
    assert listing.total == ENTRIES, listing.total
    print(f"folder: {folder} with {ENTRIES} entries; {ROUNDS} rounds, interleaved")
    series = {"warren": warren_listing, "warren_page": warren_page, "scandir": bare_scandir}
    for call in series.values():  # warm up: page cache, template loading, URL resolvers
        call()
    samples: dict[str, list[float]] = {name: [] for name in series}
    for round_number in range(ROUNDS):
        for name, call in series.items():
            samples[name].append(timed(call))
        if round_number % 5 == 4:
            print(
                f"round {round_number + 1}: "
                + ", ".join(f"{name} {values[-1]:.1f} ms" for name, values in samples.items())
            )
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(f"agent fs_list + build_listing: median {median['warren']:.1f} ms")
    print(f"  ... + rendering the page:     median {median['warren_page']:.1f} ms")
    print(f"bare os.scandir + lstat:        median {median['scandir']:.1f} ms")
    print(f"Warren's listing costs {median['warren'] / median['scandir']:.1f}x the bare scandir")
    anchor = {"anchor": round(median["scandir"], 2), "unit": "ms", "better": "lower"}
    anchor["anchor_name"] = "bare os.scandir + lstat"
    metrics = {
        "list_10k_entries": {"warren": round(median["warren"], 2), **anchor},
        "list_10k_entries_with_page": {"warren": round(median["warren_page"], 2), **anchor},
    }
    print(json.dumps({"bench": "files", "metrics": metrics}))


if __name__ == "__main__":
    main()
