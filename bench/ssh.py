"""An SSH login and a 64 MiB upload through Warren's gateway, beside a stock sshd.

    python -m bench.ssh            # as root; BENCH_ROUNDS=10, BENCH_MIB=64

Warren's path is the whole gateway: Debian's sshd with the gateway's config, its
AuthorizedKeysCommand asking Django's signed lookup (a real Django on SQLite, served by
wsgiref in this process) twice per login (sshd asks before and after the signature), the
forced command asking a real execution agent for a session in the user's bubblewrap sandbox
and relaying its streams. The anchor is the same sshd binary, the same key and the same login
account with a static authorized_keys file, running the command on the host: what OpenSSH
costs by itself. Both run `true` (login) and `cat > /dev/null` fed BENCH_MIB MiB (upload),
interleaved round by round.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
MIB = int(os.environ.get("BENCH_MIB", "64"))
UID_BASE = 3_000_000 + (os.getpid() % 5000) * 10_000


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def setup_django(base: Path, secret: str) -> None:
    os.environ["WARREN_VAR_DIR"] = str(base / "var")
    os.environ["DATABASE_URL"] = f"sqlite:///{base / 'warren.sqlite3'}"
    os.environ["WARREN_UID_BASE"] = str(UID_BASE)
    os.environ["WARREN_SSH_SECRETS"] = secret
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def serve_django() -> int:
    from django.core.wsgi import get_wsgi_application

    server = make_server(
        "127.0.0.1", 0, get_wsgi_application(), ThreadingServer, handler_class=QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_port


def anchor_config(directory: Path, port: int, login: str, keys: Path) -> Path:
    path = directory / "anchor_sshd_config"
    path.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\n"
        f"HostKey {directory}/sshd/ssh_host_ed25519_key\nPidFile {directory}/anchor.pid\n"
        f"AllowUsers {login}\nAuthorizedKeysFile {keys}\nStrictModes no\nUsePAM no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPrintMotd no\n"
        "PrintLastLog no\n"
    )
    return path


def wait_listening(port: int, process: subprocess.Popen) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"sshd on {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listened on {port}")


def timed(argv: list[str], stdin_path: Path | None = None) -> float:
    started = time.perf_counter()
    with open(stdin_path or os.devnull, "rb") as stdin:
        done = subprocess.run(argv, stdin=stdin, capture_output=True, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        sys.exit(f"{argv} failed with {done.returncode}: {done.stderr.decode(errors='replace')}")
    return elapsed


def main() -> None:
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd"):
        sys.exit("bench.ssh needs root and openssh-server")
    from execution_agent.testing.harness import AgentHarness, free_port

    base = Path(tempfile.mkdtemp(prefix="bench-ssh-", dir="/tmp"))
    os.chmod(base, 0o755)  # noqa: S103 - the gateway's account reads gateway.json below it
    login = f"bssh-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/",
         "--shell", "/bin/sh", "--password", "*", login],
        check=True,
    )  # fmt: skip
    account = pwd.getpwnam(login)
    harness = AgentHarness(
        uid_base=UID_BASE,
        cgroup_prefix=f"bench-ssh-{uuid.uuid4().hex[:8]}",
        socket_group=account.pw_gid,
        extra_env={"WARREN_EXEC_AGENT_SSH_UIDS": str(account.pw_uid)},
    )
    processes: list[subprocess.Popen] = []
    try:
        harness.start()
        run(base, account, harness, processes, free_port)
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        harness.cleanup()
        subprocess.run(["userdel", login], check=False)
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path, account, harness, processes: list, free_port) -> None:
    secret = secrets.token_urlsafe(32)
    setup_django(base, secret)
    from accounts.models import Plan, User
    from ssh.services import ssh_keys_add
    from ssh_gateway.config import load_config
    from ssh_gateway.sshd import prepare

    key = base / "id_bench"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = key.with_suffix(".pub").read_text()
    user = User.objects.create_user("bencher", "bencher@example.com", None)
    user.plan = Plan.objects.get(slug="hacker")
    user.save(update_fields=["plan"])
    ssh_keys_add(user=user, text=public)
    harness.user(user.pk, "bencher")

    secret_file = base / "secret"
    secret_file.write_text(secret)
    os.chown(secret_file, account.pw_uid, account.pw_gid)
    os.chmod(secret_file, 0o400)
    gateway_port, anchor_port = free_port(), free_port()
    config = load_config(
        {
            "WARREN_SSH_DIR": str(base / "sshd"),
            "WARREN_SSH_PORT": str(gateway_port),
            "WARREN_SSH_LISTEN": "127.0.0.1",
            "WARREN_SSH_LOGIN": account.pw_name,
            "WARREN_SSH_KEYS_USER": account.pw_name,
            "WARREN_SSH_LOOKUP_URL": f"http://127.0.0.1:{serve_django()}/ssh/lookup/",
            "WARREN_SSH_SECRET_FILE": str(secret_file),
            "WARREN_EXEC_AGENT_SOCKET": str(harness.socket_path),
        }
    )
    gateway_conf = prepare(config)
    keys = base / "anchor_keys"
    keys.write_text(public)
    anchor_conf = anchor_config(base, anchor_port, account.pw_name, keys)
    for conf, port in ((gateway_conf, gateway_port), (anchor_conf, anchor_port)):
        processes.append(
            subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(conf)], stderr=subprocess.DEVNULL)
        )
        wait_listening(port, processes[-1])

    payload = base / "payload"
    with open(payload, "wb") as handle:
        handle.write(os.urandom(MIB << 20))
    options = ["-i", str(key), "-F", "/dev/null", "-o", "IdentitiesOnly=yes", "-o",
               "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
               "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]  # fmt: skip
    target = f"{account.pw_name}@127.0.0.1"

    def ssh(port: int, command: str) -> list[str]:
        return ["ssh", *options, "-p", str(port), target, command]

    series = {
        "warren_login": lambda: timed(ssh(gateway_port, "true")),
        "anchor_login": lambda: timed(ssh(anchor_port, "true")),
        "warren_upload": lambda: timed(ssh(gateway_port, "cat > /dev/null"), payload),
        "anchor_upload": lambda: timed(ssh(anchor_port, "cat > /dev/null"), payload),
    }
    for call in series.values():  # warm up: page cache, Django's first request
        call()
    print(f"{ROUNDS} rounds, interleaved; upload {MIB} MiB; both sshd on 127.0.0.1")
    samples: dict[str, list[float]] = {name: [] for name in series}
    for round_number in range(ROUNDS):
        for name, call in series.items():
            samples[name].append(call())
        if round_number % 5 == 4:
            print(
                f"round {round_number + 1}: "
                + ", ".join(f"{name} {values[-1]:.0f} ms" for name, values in samples.items())
            )
    median = {name: statistics.median(values) for name, values in samples.items()}
    login_ratio = median["warren_login"] / median["anchor_login"]
    # An upload's time less its side's login: the transfer itself (medians, so approximate).
    mib_s = {
        side: MIB / max((median[f"{side}_upload"] - median[f"{side}_login"]) / 1000, 1e-3)
        for side in ("warren", "anchor")
    }
    print(
        f"login (`ssh host true`): Warren {median['warren_login']:.0f} ms, "
        f"stock sshd {median['anchor_login']:.0f} ms: {login_ratio:.2f}x"
    )
    print(
        f"upload {MIB} MiB (`cat > /dev/null`, login time taken off): Warren "
        f"{mib_s['warren']:.0f} MiB/s, stock sshd {mib_s['anchor']:.0f} MiB/s: "
        f"{mib_s['warren'] / mib_s['anchor']:.2f}x the throughput"
    )
    metrics = {
        "login_ms": {
            "warren": round(median["warren_login"], 1),
            "anchor": round(median["anchor_login"], 1),
            "unit": "ms",
            "better": "lower",
        },
        "upload_mib_s": {
            "warren": round(mib_s["warren"], 1),
            "anchor": round(mib_s["anchor"], 1),
            "unit": "MiB/s",
            "better": "higher",
        },
    }
    for metric in metrics.values():
        metric["anchor_name"] = "stock sshd, static authorized_keys, no sandbox"
    print(json.dumps({"bench": "ssh", "metrics": metrics}))


if __name__ == "__main__":
    main()
