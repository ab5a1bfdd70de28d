"""A node upgrade under load (deploy/upgrade) beside its anchors: no upgrade, a naive restart.

    python -m bench.deploy            # as root; BENCH_SECONDS=20 BENCH_CONSOLES=20

The cluster of deploy/cluster (four machines in network namespaces, PostgreSQL and Redis on a
fifth). One user with a Flask site on the web node and BENCH_CONSOLES consoles on the dash
node, each printing a line every 100 ms. For BENCH_SECONDS, `wrk` loads the site from the hub
namespace while a client watches every console as terminal.js does (acknowledging bytes,
reconnecting after a close). Three rounds, each measured alike:

- idle: no upgrade (the noise floor);
- warren: at 3 s, deploy/upgrade on the web node (nginx HUP, vassals touched, worker drained
  after its successor started) then on the dash node (config.serve's warm-first SIGHUP
  restart: the old workers park their consoles' attach clients in the agent, the pages
  reconnect at once and take them; worker drained);
- anchor: at 3 s, the same processes stopped and started again (what `systemctl restart`
  of each would do).

All consoles are one user's (custom limits allow them): re-attaches that had to check the
session and start a client each would queue on that user's tmux runner, so the pause would
grow with the number of consoles; parked clients and a shared list-sessions keep it flat.

Printed per round: wrk's requests and failed requests (non-2xx answers and socket errors),
and the longest pause in any console's output (median and worst over the consoles).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import requests

from deploy.cluster import cluster as cluster_module
from deploy.cluster import watch

SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
CONSOLES = int(os.environ.get("BENCH_CONSOLES", "20"))
UPGRADE_AT = 3.0
USERNAME = "bencher"
PASSWORD = "correct horse battery staple 42"  # noqa: S105 - a throw-away cluster's user
PRINTER = "while :; do echo tick; sleep 0.1; done"

MAKE_USER = f"""
from allauth.account.models import EmailAddress
from accounts.limits import LIMIT_FIELDS, effective_limits
from accounts.models import User
from accounts.services import custom_limits_set, user_provision
user = User.objects.create_user("{USERNAME}", "{USERNAME}@example.com", "{PASSWORD}")
EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
limits = {{name: getattr(effective_limits(user), name) for name in LIMIT_FIELDS}}
custom_limits_set(user=user, **{{**limits, "max_consoles": {CONSOLES + 5}}})
user_provision(user=user)
"""


def log_in(cluster) -> requests.Session:
    session = requests.Session()
    url = f"{cluster.dashboard_url}/accounts/login/"
    page = session.get(url, timeout=30)
    session.post(
        url,
        data={
            "login": USERNAME,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=30,
    ).raise_for_status()
    assert page.status_code == 200 and "sessionid" in session.cookies, "login failed"
    return session


def post(session, cluster, path: str, data: dict) -> requests.Response:
    page = session.get(f"{cluster.dashboard_url}{path}", timeout=30)
    page.raise_for_status()
    data = {**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    return session.post(
        f"{cluster.dashboard_url}{path}", data=data, allow_redirects=False, timeout=90
    )


def set_up(cluster) -> tuple[requests.Session, list[str]]:
    """The user, their site and their consoles (from the hub thread)."""
    session = log_in(cluster)
    created = post(session, cluster, "/web/new/", {"framework": "flask", "python_version": "3.11"})
    assert created.status_code == 302, created.text[:1000]
    consoles = []
    for _ in range(CONSOLES):
        started = session.post(
            f"{cluster.dashboard_url}/consoles/new/",
            data={"kind": "bash", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            allow_redirects=False,
            timeout=60,
        )
        assert started.status_code == 302, started.text[:1000]
        consoles.append(started.headers["Location"].strip("/").rsplit("/", 1)[-1])
    return session, consoles


def watch_round(cluster, session, consoles, first: bool, started: threading.Event, done):
    """Watch every console until ``done``; (watchers, window start)."""

    async def main():
        stop = asyncio.Event()
        host = cluster.dashboard_url.removeprefix("http://")
        cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
        watchers = [
            watch.ConsoleWatcher(
                f"ws://{host}/ws/consoles/{console_id}/?rows=24&cols=80",
                {"Cookie": cookie, "Origin": cluster.dashboard_url},
                command=PRINTER if first else "",
            )
            for console_id in consoles
        ]
        tasks = [asyncio.create_task(w.run(stop)) for w in watchers]
        await asyncio.wait_for(asyncio.gather(*(w.connected.wait() for w in watchers)), 60)
        await asyncio.sleep(1)  # every console printing
        begin = time.monotonic()
        started.set()
        while not done.is_set():
            await asyncio.sleep(0.05)
        end = time.monotonic()
        stop.set()
        await asyncio.gather(*tasks)
        return watchers, begin, end

    return asyncio.run(main())


def run_wrk(cluster) -> dict:
    site = f"{USERNAME}.localhost"
    command = [
        "nsenter",
        f"--net=/run/netns/{cluster.namespace('hub')}",
        "wrk",
        "-t2",
        "-c16",
        f"-d{SECONDS}s",
        "-H",
        f"Host: {site}",
        f"http://{cluster_module.ADDRESSES['web']}:{cluster_module.WEBAPPS_PORT}/",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def wrk_figures(output: str) -> dict:
    requests_done = int(re.search(r"(\d+) requests in", output)[1])
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    counts = [
        int(non_2xx[1]) if non_2xx else 0,
        *(map(int, errors.groups()) if errors else [0] * 4),
    ]
    detail = "non-2xx {} connect {} read {} write {} timeout {}".format(*counts)
    return {"requests": requests_done, "failed": sum(counts), "detail": detail}


def warren_upgrade(cluster) -> None:
    cluster.upgrade_web()
    cluster.upgrade_worker("web")
    cluster.upgrade_asgi()
    cluster.upgrade_worker("dash")


def naive_restart(cluster) -> None:
    """Stop and start each process, as `systemctl restart` of each unit would."""
    env = cluster.agent_env("web")
    python = sys.executable
    cluster.stop("nginx")
    cluster.start("nginx", "web", [python, "-m", "execution_agent.web.run", "nginx"], env)
    cluster.stop("emperor", timeout=30)
    cluster.start("emperor", "web", [python, "-m", "execution_agent.web.run", "emperor"], env)
    cluster.stop("worker-web")
    cluster.start_worker("web", queues=cluster.worker_queues["web"])
    cluster.stop("asgi")
    cluster.start_asgi()
    cluster.stop("worker-dash")
    cluster.start_worker("dash", queues=cluster.worker_queues["dash"])


def one_round(cluster, pool, session, consoles, action, first: bool) -> dict:
    started, done = threading.Event(), threading.Event()
    watching = pool.submit(watch_round, cluster, session, consoles, first, started, done)
    assert started.wait(90), "the consoles did not all connect"
    wrk = run_wrk(cluster)
    t0 = time.monotonic()
    try:
        if action is not None:
            time.sleep(UPGRADE_AT)
            action(cluster)
        upgrade_seconds = time.monotonic() - t0 - (UPGRADE_AT if action else 0)
        output, _ = wrk.communicate(timeout=SECONDS + 120)
    finally:
        done.set()  # the watchers' thread ends whatever happened here
    watchers, begin, end = watching.result(timeout=120)
    pauses = [w.longest_pause(begin, end) for w in watchers]
    return {
        **wrk_figures(output),
        "pause_median": statistics.median(pauses),
        "pause_worst": max(pauses),
        "reconnects": sum(len(w.closes) for w in watchers),
        "action_seconds": upgrade_seconds if action else 0.0,
    }


def main() -> int:
    if os.geteuid() != 0:
        print("bench.deploy needs root (namespaces, the agents)", file=sys.stderr)
        return 2
    cluster = cluster_module.Cluster()
    try:
        cluster.up()
        cluster.manage("dash", "shell", "-c", MAKE_USER)
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1,
            initializer=cluster_module.enter_namespace,
            initargs=(cluster.namespace("hub"),),
        )
        session, consoles = pool.submit(set_up, cluster).result()
        print(f"bench.deploy: {CONSOLES} consoles, wrk -c16 for {SECONDS} s, action at 3 s")
        rounds = {}
        for name, action in (
            ("idle (no upgrade)", None),
            ("warren: deploy/upgrade web+dash", warren_upgrade),
            ("anchor: naive stop/start", naive_restart),
        ):
            # Up to 6 watch threads: keep them on their own pool thread, in the hub.
            rounds[name] = one_round(cluster, pool, session, consoles, action, not rounds)
            figures = rounds[name]
            print(
                f"{name:34} requests {figures['requests']:6d}  failed {figures['failed']:5d}"
                f"  console pause median {figures['pause_median']:.2f} s"
                f" worst {figures['pause_worst']:.2f} s  reconnects {figures['reconnects']:3d}"
                f"  action {figures['action_seconds']:.1f} s  ({figures['detail']})",
                flush=True,
            )
        warren = rounds["warren: deploy/upgrade web+dash"]
        anchor = rounds["anchor: naive stop/start"]
        ratio = anchor["pause_worst"] / warren["pause_worst"]
        print(
            f"failed requests: warren {warren['failed']} vs anchor {anchor['failed']};"
            f" worst console pause: warren {warren['pause_worst']:.2f} s vs anchor"
            f" {anchor['pause_worst']:.2f} s (anchor/warren {ratio:.1f}x)"
        )
    except Exception:
        for name in ("asgi", "worker-dash", "worker-web"):
            print(f"--- {name}, last lines:\n{cluster.log(name)[-4000:]}", file=sys.stderr)
        raise
    finally:
        cluster.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
