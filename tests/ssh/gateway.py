"""SSH gateway fixtures (tests/ssh/conftest.py and the browser story import them): Debian's
sshd on a free port, started the way ``python -m ssh_gateway.sshd run`` starts it; a real
execution agent that lets the gateway's login account call ``ssh_session`` only; Warren (a
live server) answering the signed key lookups. Clients are the real ssh, scp, sftp, rsync."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Plan
from execution_agent.testing.harness import AgentHarness, free_port, wait_for_port
from ssh import services
from ssh_gateway.config import load_config
from ssh_gateway.sshd import prepare
from tests.agents import point_django_at, restore_django
from tests.factories import person

ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def gateway_account():
    """A throw-away system account, the gateway's login name (and its key command's user)."""
    if not ROOT or not shutil.which("sshd", path="/usr/sbin"):
        pytest.skip("needs root and openssh-server")
    name = f"wssh-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/",
         "--shell", "/bin/sh", "--password", "*", name],
        check=True,
    )  # fmt: skip
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture(scope="module")
def ssh_agent(gateway_account):
    """An execution agent whose socket the gateway's account reaches (its group), allowed to
    call ssh_session only; Django's settings point at it for the module."""
    harness = AgentHarness(
        uid_base=settings.WARREN_UID_BASE,
        cgroup_prefix=f"warren-test-ssh-{uuid.uuid4().hex[:8]}",
        allowed_uids=(0,),
        socket_group=gateway_account.pw_gid,
        extra_env={"WARREN_EXEC_AGENT_SSH_UIDS": str(gateway_account.pw_uid)},
    )
    harness.start()
    old = point_django_at(
        WARREN_EXEC_AGENT_SOCKET=harness.socket_path,
        WARREN_HOMES_ROOT=harness.homes,
        WARREN_WWW_ROOT=harness.www,
        WARREN_RUN_DIR=harness.run_dir,
    )
    try:
        yield harness
    finally:
        restore_django(old)
        harness.cleanup()


@dataclass
class Gateway:
    port: int
    login: str
    directory: Path
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def gateway_dir():
    directory = Path(tempfile.mkdtemp(prefix="warren-ssh-gw-", dir="/tmp"))
    os.chmod(directory, 0o755)  # noqa: S103 - the gateway's account reads gateway.json
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def running_gateway(
    *, lookup_base: str, secret: str, account, agent, directory: Path, port: int | None = None
):
    """sshd with the gateway's generated config, asking Warren at ``lookup_base`` for keys."""
    secret_file = directory / "secret"
    secret_file.write_text(secret + "\n")
    os.chown(secret_file, account.pw_uid, account.pw_gid)
    os.chmod(secret_file, 0o400)
    port = port or free_port()
    config = load_config(
        {
            "WARREN_SSH_DIR": str(directory / "sshd"),
            "WARREN_SSH_PORT": str(port),
            "WARREN_SSH_LISTEN": "127.0.0.1",
            "WARREN_SSH_LOGIN": account.pw_name,
            "WARREN_SSH_KEYS_USER": account.pw_name,
            "WARREN_SSH_LOOKUP_URL": f"{lookup_base}/ssh/lookup/",
            "WARREN_SSH_SECRET_FILE": str(secret_file),
            "WARREN_EXEC_AGENT_SOCKET": str(agent.socket_path),
        }
    )
    path = prepare(config)
    log_path = directory / f"sshd-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [config.sshd, "-D", "-e", "-f", str(path)], stdout=log, stderr=log
        )
    try:
        wait_for_port(port, process=process, log=log_path)
        yield Gateway(port, account.pw_name, Path(config.directory), process, log_path)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


@pytest.fixture
def gateway(transactional_db, django_db_serialized_rollback, live_server, ssh_agent,
            gateway_account, gateway_dir, settings):  # fmt: skip
    """The gateway, asking this test's live server (in-process) for keys."""
    secret = secrets.token_urlsafe(32)
    settings.WARREN_SSH_SECRETS = [secret]
    with running_gateway(lookup_base=live_server.url, secret=secret, account=gateway_account,
                         agent=ssh_agent, directory=gateway_dir) as running:  # fmt: skip
        yield running


class SshUser:
    """A Warren user with a home on the test agent and a key pair of their own."""

    def __init__(self, user, key_dir: Path, gateway: Gateway):
        self.user = user
        self.gateway = gateway
        self.key = key_dir / f"id_{user.username}"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", user.username, "-f",
             str(self.key)],
            check=True,
        )  # fmt: skip
        self.public_key = self.key.with_suffix(".pub").read_text()

    @property
    def options(self) -> list[str]:
        return [
            "-i", str(self.key), "-F", "/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
        ]  # fmt: skip

    @property
    def target(self) -> str:
        return f"{self.gateway.login}@127.0.0.1"

    def ssh(self, *command: str, extra: tuple[str, ...] = (), stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:  # fmt: skip
        return subprocess.run(
            ["ssh", *self.options, "-p", str(self.gateway.port), *extra, self.target, *command],
            capture_output=True,
            text=True,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    def ssh_command(self) -> str:
        """For rsync -e and the like."""
        return " ".join(["ssh", *self.options, "-p", str(self.gateway.port)])


@pytest.fixture
def make_ssh_user(ssh_agent, gateway, tmp_path):
    """``make_ssh_user(name, plan=...)``: a user with a home, a key pair and (paid) the key
    added through the service, as the Account tab adds it."""
    made = []
    key_dir = tmp_path / "keys"
    key_dir.mkdir()

    def make(username: str, *, plan: str = "hacker", add_key: bool = True) -> SshUser:
        user = person(username)
        user.plan = Plan.objects.get(slug=plan)
        user.save(update_fields=["plan"])
        ssh_agent.user(user.pk, user.username)
        made.append(user)
        ssh_user = SshUser(user, key_dir, gateway)
        if add_key:
            services.ssh_keys_add(user=user, text=ssh_user.public_key)
        return ssh_user

    yield make
    ssh_agent.kill_user_processes({user.uid for user in made})
    for user in made:
        for root in (ssh_agent.homes, ssh_agent.www):
            shutil.rmtree(root / user.username, ignore_errors=True)
