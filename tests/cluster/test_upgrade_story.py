"""A node upgrade (deploy/upgrade) while a user works: no request fails, the console comes back.

The web node's nginx and vassals reload gracefully and its worker is drained; the dashboard's
config.serve replaces its uvicorn workers, warm ones first (the console's websocket closes with
1012 and reconnects, as terminal.js does, to the console tmux kept) and its worker is drained.
How long the pauses are is bench/deploy.py's question, not this test's.
"""

import asyncio
import threading
import time

import pytest

from deploy.cluster import watch
from tests.cluster.test_cluster_story import (
    csrf_from,
    post_form,
    sign_up,
    site_text,
    start_console,
    wait_until,
)

pytestmark = [pytest.mark.root]

USERNAME = "ursula"
TICKS = "while :; do echo tick-$((6*7)); sleep 0.1; done"


def watch_while(cluster, session, console_id: str, ready: threading.Event, done: threading.Event):
    """Poll the site and watch the console until ``done``, then until the console is back."""

    async def main():
        stop = asyncio.Event()
        poller = watch.SitePoller("10.77.0.11", 8080, f"{USERNAME}.localhost")
        host = cluster.dashboard_url.removeprefix("http://")
        cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
        console = watch.ConsoleWatcher(
            f"ws://{host}/ws/consoles/{console_id}/?rows=24&cols=80",
            {"Cookie": cookie, "Origin": cluster.dashboard_url},
            command=TICKS,
        )
        tasks = [asyncio.create_task(poller.run(stop)), asyncio.create_task(console.run(stop))]
        await asyncio.wait_for(console.connected.wait(), 30)
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.1)
        await asyncio.wait_for(console.connected.wait(), 30)
        reconnected_at = time.monotonic()
        while not any(arrival > reconnected_at for arrival in console.arrivals):
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tasks)
        return poller, console

    return asyncio.run(main())


def test_a_node_upgrade_fails_no_request_and_the_console_comes_back(cluster, hub):
    session = hub(sign_up, cluster, USERNAME)
    wait_until((cluster.base / "shared" / "homes" / USERNAME).exists, lambda: "no home")
    console_id = hub(start_console, cluster, session)
    created = hub(
        post_form,
        session,
        f"{cluster.dashboard_url}/web/new/",
        {"framework": "flask", "python_version": "3.11", "domain": ""},
    )
    assert created.status_code == 302, created.text[:2000]
    assert "Hello from Flask!" in hub(site_text, USERNAME)

    ready, done = threading.Event(), threading.Event()
    watching = hub.pool.submit(watch_while, cluster, session, console_id, ready, done)
    assert ready.wait(60), "the console never connected"
    try:
        said = cluster.upgrade_web()
        vassals = list((cluster.node_dir("web") / "web" / "vassals").glob("*.ini"))
        assert f"web: {len(vassals)} vassals reloaded gracefully" in said
        cluster.upgrade_worker("web")
        cluster.upgrade_asgi()
        cluster.upgrade_worker("dash")
    finally:
        done.set()
    poller, console = watching.result(timeout=120)

    assert poller.failed == 0, poller.failures
    assert poller.ok > 0
    assert 1012 in console.closes  # "service restart", from the retiring uvicorn worker
    assert console.output.count(b"tick-42") > 10

    # The drained workers' successors serve: a Reload goes through exec.web to the web agent.
    app = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    page = hub(session.get, f"{cluster.dashboard_url}/web/{app}/", timeout=30)
    reloaded = hub(
        session.post,
        f"{cluster.dashboard_url}/web/{app}/reload/",
        data={"csrfmiddlewaretoken": csrf_from(session, page)},
        allow_redirects=False,
        timeout=90,
    )
    assert reloaded.status_code == 302, reloaded.text[:500]
    assert "Hello from Flask!" in hub(site_text, USERNAME)
