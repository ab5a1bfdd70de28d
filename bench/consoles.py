"""Warren's consoles beside terminado (Jupyter's terminal server), in one run on this machine.

    python -m bench.consoles          # as root; BENCH_ECHO_ROUNDS=200 BENCH_IDLE_CONSOLES=200

Warren's path: a real execution agent (sandboxed tmux server per user, bubblewrap, cgroups), the
Procfile's ASGI server (uvicorn) serving config.asgi with a throw-away SQLite database, the
browser's side played by a websocket client that acknowledges every frame as xterm.js does.
terminado's path: its TermSocket with a UniqueTermManager running bash in a PTY, in its own
tornado process, bash unsandboxed. Measured for both: keystroke echo round trip, bulk output (a
command printing 50 MB, timed until its end marker reaches the client), `yes` then Ctrl-C until
a new command answers, memory per idle console (RSS, and PSS: shared pages split among their
users, what the machine pays) and the time to open one (Warren: the Bash button's POST, the
websocket until the first prompt byte; terminado: the websocket until the first prompt byte).
Then Warren alone: 200 idle consoles open at once, and the dashboard's response time meanwhile,
beside the dashboard's response time before any console was opened.

The budget line says where Warren's milliseconds go: the same console read by an attach client
in this process (tmux alone, no web server), each agent op called directly, and one sandboxed
`true` (bubblewrap and the cgroup join) beside the open's phases."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import websockets

from bench.consoles_servers import (
    Fileserver,
    Warren,
    descendants,
    pids_of_uid,
    rss_bytes,
)
from execution_agent.testing.harness import AgentHarness, free_port, wait_for_port

REPO = Path(__file__).resolve().parent.parent
BULK_BYTES = 50_000_000
BULK_COMMAND = (
    f"yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c {BULK_BYTES}; "
    "echo END-$((40+2))"
)
PROMPT = b"$ "
TERMINADO_TEARDOWN = 0.4  # seconds: ptyprocess's close() sleeps 0.1 s, then maybe terminates


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- the two clients ------------------------------------------------------------------------


async def until(terminal, marker: bytes, timeout: float = 300) -> None:
    """Read until marker; only a tail is kept, so 50 MB of output costs no quadratic search.

    A marker that never comes fails the run after ``timeout`` rather than hanging it."""

    async def read() -> None:
        tail = b""
        while True:
            tail = tail[-len(marker) :] + await terminal.next_output()
            if marker in tail:
                return

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise RuntimeError(f"{marker!r} did not arrive within {timeout} s") from None


class WarrenTerminal:
    """The browser's side of /ws/consoles/<id>/: binary frames, acknowledged as terminal.js does.

    terminal.js acknowledges what xterm.js has written once 32 KiB have added up, or 10 ms
    after a trickle: never before the bytes are on the screen, so the ack is off the echo's
    path, and one keystroke's echo costs the server no ack frame of its own.
    """

    ACK_BYTES = 32 * 1024
    ACK_DELAY = 0.010

    def __init__(self, socket) -> None:
        self.socket = socket
        self.unacked = 0
        self.timer: asyncio.TimerHandle | None = None
        self.pending_ack: asyncio.Task | None = None

    async def next_output(self) -> bytes:
        while True:
            frame = await self.socket.recv()
            if isinstance(frame, bytes):
                self.unacked += len(frame)
                if self.unacked >= self.ACK_BYTES:
                    await self.ack()
                elif self.timer is None:
                    self.timer = asyncio.get_running_loop().call_later(
                        self.ACK_DELAY, self._ack_later
                    )
                return frame

    def _ack_later(self) -> None:
        self.timer = None
        self.pending_ack = asyncio.get_running_loop().create_task(self.ack())

    async def ack(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.unacked:
            count, self.unacked = self.unacked, 0
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.socket.send(json.dumps({"type": "ack", "bytes": count}))

    async def send(self, text: str) -> None:
        await self.socket.send(text.encode())

    async def until(self, marker: bytes) -> None:
        await until(self, marker)

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        await self.socket.close()


class TerminadoTerminal:
    """terminado's protocol: JSON lists, ["stdin", text] in and ["stdout", text] out."""

    def __init__(self, socket) -> None:
        self.socket = socket

    async def next_output(self) -> bytes:
        while True:
            message = json.loads(await self.socket.recv())
            if message[0] == "stdout":
                return message[1].encode()

    async def send(self, text: str) -> None:
        await self.socket.send(json.dumps(["stdin", text]))

    async def until(self, marker: bytes) -> None:
        await until(self, marker)


class AttachedPty:
    """The same console's tmux attach PTY, read in this process: Warren without the web layer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.ready: asyncio.Queue[bytes] = asyncio.Queue()
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self.ready.put_nowait(os.read(self.fd, 65536))

    async def next_output(self) -> bytes:
        return await self.ready.get()

    async def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    async def until(self, marker: bytes) -> None:
        await until(self, marker)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)


async def drain(terminal, quiet: float = 0.3) -> None:
    """Read whatever the terminal still has to say (the end of the first screen)."""
    while True:
        try:
            await asyncio.wait_for(terminal.next_output(), quiet)
        except TimeoutError:
            return


async def echo_once(terminal, key: str) -> float:
    """Type one key and time until the terminal's answer (its echo) comes back."""
    started = time.perf_counter()
    await terminal.send(key)
    await terminal.next_output()
    return (time.perf_counter() - started) * 1000


async def bulk_throughput(terminal) -> float:
    """MB/s of a command printing BULK_BYTES, until its end marker reaches the client."""
    started = time.perf_counter()
    await terminal.send(BULK_COMMAND + "\r")
    await terminal.until(b"END-42")
    return BULK_BYTES / 1e6 / (time.perf_counter() - started)


async def yes_then_ctrl_c(terminal, flood: float = 1.0) -> float:
    """Seconds from Ctrl-C, after ``flood`` seconds of ``yes``, until a new command's answer."""
    await terminal.send("yes\r")
    until_ = time.perf_counter() + flood
    while time.perf_counter() < until_:
        await terminal.next_output()
    started = time.perf_counter()
    await terminal.send("\x03")
    await terminal.send("echo back-$((40+2))\r")
    await terminal.until(b"back-42")
    return time.perf_counter() - started


# Opening a Warren console, phase by phase (ms), for the budget: the Bash button's POST, the
# websocket handshake, the agent's attach until the "ready" frame, then the first prompt byte.
OPEN_PHASES: dict[str, list[float]] = {"post": [], "handshake": [], "ready": [], "prompt": []}


async def open_warren_console(warren: Warren) -> tuple[float, object, str]:
    started = time.perf_counter()
    console_id = await asyncio.to_thread(warren.start_console)
    posted = time.perf_counter()
    socket = await warren.connect(console_id)
    shaken = time.perf_counter()
    while not isinstance(frame := await socket.recv(), str) or '"ready"' not in frame:
        pass
    ready = time.perf_counter()
    terminal = WarrenTerminal(socket)
    await terminal.until(PROMPT)
    done = time.perf_counter()
    for name, since, until_ in (
        ("post", started, posted),
        ("handshake", posted, shaken),
        ("ready", shaken, ready),
        ("prompt", ready, done),
    ):
        OPEN_PHASES[name].append((until_ - since) * 1000)
    return (done - started) * 1000, terminal, console_id


async def warren_memory_and_idle(warren: Warren, idle: int) -> dict:
    """RSS per idle console (from 20 of them), then ``idle`` consoles open and the dashboard."""
    results: dict = {}

    # The agent holds each console's attach client (its socket to tmux): its growth counts.
    agent_pid = warren.harness.process.pid

    def footprint(field: str) -> int:
        mine = sum(rss_bytes(pid, field) for pid in pids_of_uid(warren.user.uid))
        return mine + rss_bytes(warren.process.pid, field) + rss_bytes(agent_pid, field)

    def pss_by_part() -> dict[str, int]:
        """PSS of the user's processes by what they are, the ASGI server's and the agent's."""
        parts = {
            "ASGI server": rss_bytes(warren.process.pid, "Pss"),
            "execution agent (holding the attach clients)": rss_bytes(agent_pid, "Pss"),
        }
        for pid in pids_of_uid(warren.user.uid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            name = os.path.basename(argv[0]).decode(errors="replace")
            if not name:
                continue  # exiting meanwhile
            if name == "tmux":
                name = "tmux server" if b"-D" in argv else "tmux attach clients"
            elif name == "bwrap":
                name = "bubblewrap (outside each sandbox)"
            parts[name] = parts.get(name, 0) + rss_bytes(pid, "Pss")
        return parts

    before = {field: footprint(field) for field in ("Rss", "Pss")}
    parts_before = pss_by_part()
    sockets, console_ids = [], []
    for index in range(idle):
        _, terminal, console_id = await open_warren_console(warren)
        sockets.append(terminal)
        console_ids.append(console_id)
        # Measured after the first 20, or after all of them when fewer are asked for
        # (BENCH_IDLE_CONSOLES below 20 used to leave no figure and crash the summary).
        sample = min(idle, 20)
        if index + 1 == sample:
            await asyncio.sleep(1)
            grown = {field: (footprint(field) - before[field]) / sample for field in before}
            results["rss"], results["pss"] = grown["Rss"], grown["Pss"]
            print(
                f"warren: RSS per idle console (tmux session + bash + its attach client, the "
                f"agent's own + the agent's and the ASGI server's shares) "
                f"{grown['Rss'] / 2**20:.2f} MiB; "
                f"PSS "
                f"(shared pages split among their users) {grown['Pss'] / 2**20:.2f} MiB"
            )
            parts = pss_by_part()
            print(
                "warren: PSS per idle console by part: "
                + ", ".join(
                    f"{name} {(size - parts_before.get(name, 0)) / sample / 2**20:.2f} MiB"
                    for name, size in sorted(parts.items(), key=lambda item: -item[1])
                )
            )
        if (index + 1) % 50 == 0:
            print(f"warren: {index + 1} consoles open")
    await asyncio.sleep(1)
    results["dashboard_busy"] = await asyncio.to_thread(warren.dashboard_ms, 30)
    print(
        f"warren: dashboard with {idle} idle consoles open: p50 "
        f"{statistics.median(results['dashboard_busy']):.1f} ms, max "
        f"{max(results['dashboard_busy']):.1f} ms"
    )
    for opened in sockets:
        await opened.close()
    for console_id in console_ids:
        await asyncio.to_thread(warren.kill_console, console_id)
    # The anchor: the same dashboard, as warm, once no console is left. Exiting shells write
    # their history into the home, and the storage card's du backend rescans it: let it settle.
    await asyncio.to_thread(warren.dashboard_ms, 10)
    results["dashboard_alone"] = await asyncio.to_thread(warren.dashboard_ms, 30)
    print(
        f"warren: dashboard once they are all killed: p50 "
        f"{statistics.median(results['dashboard_alone']):.1f} ms, max "
        f"{max(results['dashboard_alone']):.1f} ms"
    )
    return results


# --- terminado ------------------------------------------------------------------------------


async def open_terminado(port: int) -> tuple[float, TerminadoTerminal]:
    started = time.perf_counter()
    socket = await websockets.connect(
        f"ws://127.0.0.1:{port}/websocket", max_size=None, ping_interval=None
    )
    terminal = TerminadoTerminal(socket)
    await terminal.until(PROMPT)
    return (time.perf_counter() - started) * 1000, terminal


async def terminado_memory(port: int, pid: int) -> dict:
    """RSS and PSS per idle terminal: 20 new bash processes plus what the server grew by."""
    before = {field: rss_bytes(pid, field) for field in ("Rss", "Pss")}
    children_before = set(descendants(pid))
    sockets = [(await open_terminado(port))[1].socket for _ in range(20)]
    await asyncio.sleep(1)
    shells = [child for child in descendants(pid) if child not in children_before]
    grown = {
        field: (sum(rss_bytes(child, field) for child in shells) + rss_bytes(pid, field) - old) / 20
        for field, old in before.items()
    }
    print(
        f"terminado: per idle terminal (bash + server's share) RSS {grown['Rss'] / 2**20:.2f} "
        f"MiB, PSS {grown['Pss'] / 2**20:.2f} MiB"
    )
    for opened in sockets:
        await opened.close()
    return {"rss": grown["Rss"], "pss": grown["Pss"]}


class TmuxCeiling:
    """MB/s a tmux server parses BULK_COMMAND's output with no client attached, unsandboxed.

    Whatever carries a console's bytes out of tmux, tmux itself reads and interprets every
    byte into its screen first: this is the fastest a tmux-backed console can print. Measured
    between the bulk runs, so that it meets the same machine they do.
    """

    def __init__(self, base: Path) -> None:
        self.socket_path, conf = str(base / "ceiling.sock"), base / "ceiling.conf"
        conf.write_text("set -g status off\nset -g history-limit 50000\n")
        self.tmux = ["tmux", "-S", self.socket_path]
        session = ["new-session", "-d", "-x", "80", "-y", "24", "-s", "c", "bash --norc"]
        subprocess.run(
            [*self.tmux, "-f", str(conf), *session],
            check=True,
            env={**os.environ, "PS1": "$ "},
        )

    def run(self) -> float:
        done = f"tmux -S {self.socket_path} wait -S d"
        command = BULK_COMMAND.replace("echo END-$((40+2))", done)
        started = time.perf_counter()
        subprocess.run([*self.tmux, "send-keys", "-t", "c", command, "Enter"], check=True)
        subprocess.run([*self.tmux, "wait-for", "d"], check=True, timeout=300)
        return BULK_BYTES / 1e6 / (time.perf_counter() - started)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], check=False)


def bare_pty_echo(rounds: int) -> float:
    """Echo p50 (ms) of bash on a PTY read in this process: no tmux, no web server."""
    pid, fd = os.forkpty()
    if pid == 0:
        os.environ["PS1"] = "$ "
        os.execvp("bash", ["bash", "--norc", "--noprofile"])  # noqa: S606 - the anchor's shell
    try:
        samples = []
        time.sleep(0.3)
        for index in range(rounds + 1):
            while select.select([fd], [], [], 0.01)[0]:
                os.read(fd, 65536)
            started = time.perf_counter()
            os.write(fd, b"a" if index % 2 == 0 else b"\x7f")
            os.read(fd, 65536)
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples[1:])
    finally:
        os.close(fd)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def agent_budget(warren: Warren, rounds: int = 10) -> dict[str, float]:
    """The execution agent's share of opening a console, op by op, called directly (ms p50).

    ``launch``: one sandboxed command (bubblewrap, cgroup join) through the agent, `true`;
    ``start``: op console_start in a running tmux server (a sandboxed ``tmux new-session``);
    ``attach``: op console_attach right after (the client console_start prepared, handed over);
    ``reattach``: another attach (a viewer, a reload: a new client, the agent's own on the
    user's tmux socket, where it used to be a sandboxed process).
    """
    client = warren.harness.client()
    user = {"uid": warren.user.uid, "username": warren.user.username}
    samples: dict[str, list[float]] = {name: [] for name in ("info", "launch", "start")}
    samples |= {"attach": [], "reattach": []}

    def timed(name: str, call):
        started = time.perf_counter()
        result = call()
        samples[name].append((time.perf_counter() - started) * 1000)
        return result

    for index in range(rounds):
        console_id = f"budget{index:04d}{uuid.uuid4().hex[:6]}"
        timed("info", client.info)
        timed("launch", lambda: client.run(user=user, argv=["true"]))
        timed(
            "start",
            lambda cid=console_id: client.console_start(
                user=user, console_id=cid, argv=["bash"], rows=24, cols=80
            ),
        )
        fd = timed(
            "attach",
            lambda cid=console_id: client.console_attach(
                user=user, console_id=cid, read_only=False, rows=24, cols=80
            ),
        )
        os.close(fd)
        fd = timed(
            "reattach",
            lambda cid=console_id: client.console_attach(
                user=user, console_id=cid, read_only=True, rows=24, cols=80
            ),
        )
        os.close(fd)
        client.console_kill(user=user, console_id=console_id)
    return {name: statistics.median(values) for name, values in samples.items()}


async def measure(warren: Warren, port: int, pid: int, rounds: int, idle: int) -> dict:
    """Both servers, interleaved sample by sample, so a busy machine hurts them alike."""
    mine: dict = {"open": [], "echo": [], "bulk": [], "echo_without_web": [], "ctrl_c": []}
    mine |= {"bulk_without_web": [], "ctrl_c_without_web": [], "ceiling": []}
    theirs: dict = {"open": [], "echo": [], "bulk": [], "ctrl_c": []}
    # Warm up: caches, connections, the file server's first du scan of the homes.
    await asyncio.to_thread(warren.dashboard_ms, 30)
    for _ in range(20):
        elapsed, terminal, console_id = await open_warren_console(warren)
        mine["open"].append(elapsed)
        await terminal.close()
        await asyncio.to_thread(warren.kill_console, console_id)
        elapsed, terminal = await open_terminado(port)
        theirs["open"].append(elapsed)
        await terminal.socket.close()
        # terminado ends a closed terminal with ptyprocess's close(), whose time.sleep(0.1)
        # blocks its event loop: an open landing in it measured 100 ms instead of 10.
        await asyncio.sleep(TERMINADO_TEARDOWN)
    mine["agent"] = await asyncio.to_thread(agent_budget, warren)
    phases = {name: statistics.median(values) for name, values in OPEN_PHASES.items()}
    mine["open_phases"] = phases
    print(
        f"open a console p50: warren {statistics.median(mine['open']):.1f} ms, "
        f"terminado {statistics.median(theirs['open']):.1f} ms"
    )
    agent = mine["agent"]
    print(
        f"  warren's open, phase by phase (p50 ms): POST {phases['post']:.1f} "
        f"[agent console_start {agent['start']:.1f}], websocket handshake "
        f"{phases['handshake']:.1f}, attach until ready {phases['ready']:.1f} [agent "
        f"console_attach {agent['attach']:.1f}; a later one {agent['reattach']:.1f}], first "
        f"prompt byte {phases['prompt']:.1f}; "
        f"one sandboxed `true` through the agent {agent['launch']:.1f}, an agent round trip "
        f"(info) {agent['info']:.2f}"
    )
    _, warren_terminal, console_id = await open_warren_console(warren)
    _, terminado_terminal = await open_terminado(port)
    user = {"uid": warren.user.uid, "username": warren.user.username}

    async def attached_here() -> AttachedPty:
        """Another tmux client on the console, read in this process: tmux without the web."""
        fd = await asyncio.to_thread(
            warren.harness.client().console_attach,
            user=user,
            console_id=console_id,
            read_only=False,
            rows=24,
            cols=80,
        )
        return AttachedPty(fd)

    async def echo_rounds(series) -> None:
        for _, _, terminal in series:
            await drain(terminal)
        for index in range(rounds):
            for results, name, terminal in series:
                key = "a" if index % 2 == 0 else "\x7f"
                results[name].append(await echo_once(terminal, key))
                for _, _, other in series:
                    await drain(other, quiet=0.01)

    # One tmux client at a time: a second one attached would make tmux draw every key twice.
    await echo_rounds(((mine, "echo", warren_terminal), (theirs, "echo", terminado_terminal)))
    await warren_terminal.close()
    direct = await attached_here()
    await echo_rounds(((mine, "echo_without_web", direct),))
    direct.close()
    print(
        f"echo p50: warren {statistics.median(mine['echo']):.2f} ms, "
        f"terminado {statistics.median(theirs['echo']):.2f} ms; "
        "tmux attach read in-process, without the ASGI server "
        f"{statistics.median(mine['echo_without_web']):.2f} ms"
    )
    ceiling = await asyncio.to_thread(TmuxCeiling, warren.base)
    for _ in range(3):
        mine["ceiling"].append(await asyncio.to_thread(ceiling.run))
        direct = await attached_here()
        await drain(direct)
        mine["bulk_without_web"].append(await bulk_throughput(direct))
        await drain(direct)
        mine["ctrl_c_without_web"].append(await yes_then_ctrl_c(direct))
        await drain(direct)
        direct.close()
        warren_terminal = WarrenTerminal(await warren.connect(console_id))
        await drain(warren_terminal)
        for results, terminal in ((mine, warren_terminal), (theirs, terminado_terminal)):
            results["bulk"].append(await bulk_throughput(terminal))
            await drain(terminal)
            results["ctrl_c"].append(await yes_then_ctrl_c(terminal))
            await drain(terminal)
        await warren_terminal.close()
    await asyncio.to_thread(ceiling.close)
    print(
        "bulk output runs (MB/s): warren "
        + ", ".join(f"{value:.1f}" for value in mine["bulk"])
        + "; terminado "
        + ", ".join(f"{value:.1f}" for value in theirs["bulk"])
        + "; tmux attach read in-process "
        + ", ".join(f"{value:.1f}" for value in mine["bulk_without_web"])
        + "; tmux with no client (its parsing ceiling) "
        + ", ".join(f"{value:.1f}" for value in mine["ceiling"])
    )
    print(
        "yes, then Ctrl-C until back at a prompt (ms): warren "
        + ", ".join(f"{value * 1000:.1f}" for value in mine["ctrl_c"])
        + "; terminado "
        + ", ".join(f"{value * 1000:.1f}" for value in theirs["ctrl_c"])
        + "; tmux attach read in-process "
        + ", ".join(f"{value * 1000:.1f}" for value in mine["ctrl_c_without_web"])
    )
    await terminado_terminal.socket.close()
    await asyncio.to_thread(warren.kill_console, console_id)
    mine["tmux_ceiling"] = statistics.median(mine["ceiling"])
    mine["bare_echo"] = await asyncio.to_thread(bare_pty_echo, rounds)
    print(
        f"bash on a bare PTY read in-process (no tmux, no web), echo p50 {mine['bare_echo']:.2f} ms"
    )
    theirs |= await terminado_memory(port, pid)
    mine.update(await warren_memory_and_idle(warren, idle))
    return {"warren": mine, "terminado": theirs}


# --- the run --------------------------------------------------------------------------------


def metric(warren: float, anchor: float, unit: str, better: str, anchor_name="terminado") -> dict:
    return {
        "warren": round(warren, 2),
        "anchor": round(anchor, 2),
        "unit": unit,
        "better": better,
        "anchor_name": anchor_name,
    }


def main() -> int:
    if os.geteuid() != 0:
        print("bench.consoles needs root (the agent drops to a user's uid)", file=sys.stderr)
        return 2
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, even in a pipe
    rounds = int(os.environ.get("BENCH_ECHO_ROUNDS", "200"))
    idle = int(os.environ.get("BENCH_IDLE_CONSOLES", "200"))
    base = Path(tempfile.mkdtemp(prefix="warren-bench-consoles-"))
    harness = AgentHarness(
        uid_base=3_000_000 + 10_000 * (os.getpid() % 1000),
        cgroup_prefix=f"warren-bench-{uuid.uuid4().hex[:8]}",
    )
    terminado_port = free_port()
    terminado = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from bench.consoles_servers import serve_terminado as s; s({terminado_port})",
        ],
        cwd=REPO,
        start_new_session=True,
    )
    warren = fileserver = None
    try:
        harness.start()
        wait_for_port(terminado_port, process=terminado)
        fileserver = Fileserver(harness, base)
        warren = Warren(harness, base, fileserver)
        both = asyncio.run(measure(warren, terminado_port, terminado.pid, rounds, idle))
        mine, theirs = both["warren"], both["terminado"]
    finally:
        if warren is not None:
            warren.stop()
        if fileserver is not None:
            fileserver.stop()
        os.killpg(terminado.pid, signal.SIGTERM)
        terminado.wait(timeout=10)
        harness.cleanup()
        shutil.rmtree(base, ignore_errors=True)

    mib = 2**20
    busy = percentile(mine["dashboard_busy"], 0.95)
    alone = percentile(mine["dashboard_alone"], 0.95)
    echo = {name: percentile(mine[name], 0.5) for name in ("echo", "echo_without_web")}
    print(
        f"echo p50/p95: warren {percentile(mine['echo'], 0.5):.2f}/"
        f"{percentile(mine['echo'], 0.95):.2f} ms, terminado {percentile(theirs['echo'], 0.5):.2f}/"
        f"{percentile(theirs['echo'], 0.95):.2f} ms; bulk (median of 3): warren "
        f"{statistics.median(mine['bulk']):.1f} MB/s, terminado "
        f"{statistics.median(theirs['bulk']):.1f} MB/s; yes then Ctrl-C (max of 3): warren "
        f"{max(mine['ctrl_c']) * 1000:.1f} ms, terminado {max(theirs['ctrl_c']) * 1000:.1f} ms "
        "(aim < 500 ms)"
    )
    print(
        f"idle console: warren RSS {mine['rss'] / mib:.2f} MiB, PSS {mine['pss'] / mib:.2f} MiB; "
        f"terminado RSS {theirs['rss'] / mib:.2f} MiB, PSS {theirs['pss'] / mib:.2f} MiB; "
        f"dashboard p95 with {idle} consoles {busy:.1f} ms (aim < 200 ms), without {alone:.1f} ms"
    )
    phases, agent = mine["open_phases"], mine["agent"]
    print(
        f"budget (p50): echo = bash on a PTY {mine['bare_echo']:.2f} ms + tmux "
        f"{echo['echo_without_web'] - mine['bare_echo']:.2f} ms + ASGI server and bridge "
        f"{echo['echo'] - echo['echo_without_web']:.2f} ms (terminado: bash on a PTY + its web "
        f"layer {percentile(theirs['echo'], 0.5) - mine['bare_echo']:.2f} ms); "
        f"open = POST {phases['post']:.1f} ms (agent console_start {agent['start']:.1f}: "
        f"tmux new-session in the user's runner, no sandbox launch; Django and its database the "
        f"rest) + handshake {phases['handshake']:.1f} + attach {phases['ready']:.1f} ms (the "
        f"client prepared at start, handed over; a viewer's or a reload's new client, the "
        f"agent's own, costs {agent['reattach']:.1f}, where a sandbox launch would be "
        f"{agent['launch']:.1f}) + the shell's "
        f"first prompt {phases['prompt']:.1f} ms; bulk = "
        f"tmux parsing with no client {mine['tmux_ceiling']:.1f} MB/s (the ceiling), one tmux "
        f"client read in-process {statistics.median(mine['bulk_without_web']):.1f} MB/s, "
        f"through the web {statistics.median(mine['bulk']):.1f} MB/s"
    )
    metrics = {
        "echo_p50": metric(
            percentile(mine["echo"], 0.5), percentile(theirs["echo"], 0.5), "ms", "lower"
        ),
        "echo_p95": metric(
            percentile(mine["echo"], 0.95), percentile(theirs["echo"], 0.95), "ms", "lower"
        ),
        "bulk_output": metric(
            statistics.median(mine["bulk"]), statistics.median(theirs["bulk"]), "MB/s", "higher"
        ),
        # In ms: both are a few ms, which seconds rounded to 0.00 (and a 0/0 ratio).
        "yes_then_ctrl_c_max": metric(
            max(mine["ctrl_c"]) * 1000, max(theirs["ctrl_c"]) * 1000, "ms", "lower"
        ),
        "rss_per_idle_console": metric(mine["rss"] / mib, theirs["rss"] / mib, "MiB", "lower"),
        "pss_per_idle_console": metric(mine["pss"] / mib, theirs["pss"] / mib, "MiB", "lower"),
        "open_console_p50": metric(
            percentile(mine["open"], 0.5), percentile(theirs["open"], 0.5), "ms", "lower"
        ),
        f"dashboard_p95_with_{idle}_consoles": metric(
            busy, alone, "ms", "lower", anchor_name="dashboard with no console open"
        ),
    }
    for name, figure in metrics.items():
        ratio = figure["warren"] / figure["anchor"] if figure["anchor"] else float("nan")
        print(f"  {name}: warren / {figure['anchor_name']} = {ratio:.2f}")
    print(json.dumps({"bench": "consoles", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
