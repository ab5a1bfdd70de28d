"""The classroom view beside its anchor, the same consoles opened as separate console pages.

    python -m bench.classroom          # as root; BENCH_STUDENTS=30 BENCH_SECONDS=15

A real execution agent, fileserver agent and the Procfile's ASGI server (bench.consoles_servers);
BENCH_STUDENTS students of one teacher, each with a console printing ``T <epoch ms>`` every
100 ms. One headless Chromium (Selenium) plays the teacher: first the classroom grid (one page,
one small read-only xterm per console), then the anchor: one full console page per console,
each in its own tab. Measured for both over BENCH_SECONDS: the display delay (from the line's
timestamp to xterm.js having parsed it, through a wrapper around Terminal.write installed before
the page's scripts run, so both pages are measured alike), the browser's renderer memory (RSS
of Chromium's renderer processes) and the web server's CPU (utime+stime of its process tree,
in cores).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.consoles import percentile
from bench.consoles_servers import Fileserver, Warren, descendants, rss_bytes
from execution_agent.testing.harness import AgentHarness

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PRINTER = 'while :; do echo "T $(date +%s%3N)"; sleep 0.1; done'

# Installed before any page script: wraps Terminal.write (xterm.js's UMD build assigns
# window.Terminal) so every parsed chunk's "T <ms>" stamps become delays.
HOOK = r"""
window.__delays = [];
let wrapped;
Object.defineProperty(window, "Terminal", {
  configurable: true,
  get() { return wrapped; },
  set(cls) {
    const write = cls.prototype.write;
    cls.prototype.write = function (data, callback) {
      return write.call(this, data, () => {
        const text = typeof data === "string" ? data : new TextDecoder().decode(data);
        const now = Date.now();
        for (const match of text.matchAll(/T (\d{13})/g)) {
          window.__delays.push(now - Number(match[1]));
        }
        if (callback) callback();
      });
    };
    wrapped = cls;
  },
});
"""


def cpu_seconds(pid: int) -> float:
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for each in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def renderer_rss(driver) -> int:
    browser_pid = driver.service.process.pid
    total = 0
    for pid in descendants(browser_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--type=renderer" in cmdline:
            total += rss_bytes(pid)
    return total


def chromium(base: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1600,1000",
        f"--user-data-dir={base / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
    return driver


def log_in(driver, warren) -> None:
    driver.get(f"{warren.url}/accounts/login/")
    name, value = warren.cookie.split("=", 1)
    driver.add_cookie({"name": name, "value": value, "path": "/"})


def measure(driver, warren, handles: list[str], seconds: float) -> dict:
    """Reset the delays in every tab, wait, and read the figures back."""
    for handle in handles:
        driver.switch_to.window(handle)
        driver.execute_script("window.__delays = [];")
    cpu_before, started = cpu_seconds(warren.process.pid), time.monotonic()
    time.sleep(seconds)
    cpu = (cpu_seconds(warren.process.pid) - cpu_before) / (time.monotonic() - started)
    delays, heap = [], 0
    for handle in handles:
        driver.switch_to.window(handle)
        delays += driver.execute_script("return window.__delays;")
        heap += driver.execute_script("return performance.memory.usedJSHeapSize;")
    return {"delays": delays, "rss": renderer_rss(driver), "heap": heap, "cpu": cpu}


def students_with_consoles(warren, harness, count: int) -> list[str]:
    from accounts.models import User
    from consoles import tmux
    from consoles.models import Console
    from education.models import TeacherLink
    from servers.models import Server

    server = Server.objects.filter(kind=Server.Kind.CONSOLE).first()
    ids = []
    for number in range(count):
        student = User.objects.create_user(f"student{number:03d}", plan=warren.user.plan)
        harness.user(student.pk, student.username)
        TeacherLink.objects.create(
            student=student, teacher=warren.user, state=TeacherLink.State.ACTIVE
        )
        console = Console.objects.create(
            owner=student,
            kind=Console.Kind.CUSTOM,
            title="printer",
            argv=["bash", "-c", PRINTER],
            cwd=f"/home/{student.username}",
            server=server,
        )
        tmux.start(console)
        ids.append(console.pk)
    return ids


def summary(name: str, figures: dict, pages: int) -> str:
    delays = figures["delays"] or [float("nan")]
    return (
        f"{name}: {pages} page(s), {len(delays)} lines shown, display delay p50/p95 "
        f"{statistics.median(delays):.0f}/{percentile(delays, 0.95):.0f} ms, renderer memory "
        f"{figures['rss'] / 2**20:.0f} MiB (JS heap {figures['heap'] / 2**20:.0f} MiB), "
        f"web server CPU {figures['cpu']:.2f} cores"
    )


def main() -> int:
    if os.geteuid() != 0:
        print("bench.classroom needs root (the agent drops to the users' uids)", file=sys.stderr)
        return 2
    sys.stdout.reconfigure(line_buffering=True)
    count = int(os.environ.get("BENCH_STUDENTS", "30"))
    seconds = float(os.environ.get("BENCH_SECONDS", "15"))
    base = Path(tempfile.mkdtemp(prefix="warren-bench-classroom-"))
    harness = AgentHarness(
        uid_base=3_000_000 + 10_000 * (os.getpid() % 1000),
        cgroup_prefix=f"warren-bench-{uuid.uuid4().hex[:8]}",
    )
    warren = fileserver = driver = None
    os.environ["WARREN_EDUCATION_CLASSROOM_MAX"] = str(max(count, 36))
    try:
        harness.start()
        fileserver = Fileserver(harness, base)
        warren = Warren(harness, base, fileserver)
        console_ids = students_with_consoles(warren, harness, count)
        driver = chromium(base)
        log_in(driver, warren)

        driver.get(f"{warren.url}/education/classroom/")
        time.sleep(3)  # every cell attached and past its first redraw
        cells = driver.execute_script("return Object.keys(window.warrenClassroom.terminals).length")
        grid = measure(driver, warren, [driver.current_window_handle], seconds)
        print(f"classroom grid: {cells} cells")

        first = driver.current_window_handle
        handles = []
        for console_id in console_ids:
            driver.switch_to.new_window("tab")
            # The hook is per tab (a DevTools target of its own).
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
            driver.get(f"{warren.url}/consoles/{console_id}/")
            handles.append(driver.current_window_handle)
        driver.switch_to.window(first)
        driver.close()
        time.sleep(3)
        anchor = measure(driver, warren, handles, seconds)
    finally:
        if driver is not None:
            driver.quit()
        if warren is not None:
            warren.stop()
        if fileserver is not None:
            fileserver.stop()
        harness.cleanup()
        shutil.rmtree(base, ignore_errors=True)

    print(summary("warren classroom grid", grid, 1))
    print(summary("anchor: separate console pages", anchor, count))
    p95 = percentile(grid["delays"], 0.95), percentile(anchor["delays"], 0.95)
    print(
        f"ratios (grid/anchor): p95 delay {p95[0] / max(p95[1], 1):.2f}, memory "
        f"{grid['rss'] / max(anchor['rss'], 1):.2f}, server CPU "
        f"{grid['cpu'] / max(anchor['cpu'], 1e-9):.2f}; aims: p95 < 250 ms, page < 200 MB, "
        f"server < 1 core"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
