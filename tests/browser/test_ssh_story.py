"""A paying user adds her laptop's key on the Account tab, types the command it shows, lands
in her sandbox, copies a file in and sees it on the Files tab; she deletes the key and the
next login is refused."""

import re
import secrets
import subprocess

import pytest
from selenium.webdriver.common.by import By

from accounts.models import Plan
from execution_agent.testing.harness import free_port
from tests.browser.conftest import Site
from tests.browser.helpers import fill, log_in_as, submit, wait_for_text
from tests.factories import person
from tests.live import LiveServer
from tests.ssh.gateway import SshUser, running_gateway

pytestmark = [pytest.mark.browser, pytest.mark.root]


@pytest.fixture
def ssh_site(
    transactional_db, django_db_serialized_rollback, tmp_path, ssh_agent, gateway_account,
    gateway_dir,
):  # fmt: skip
    """Warren (uvicorn, as the Procfile runs it) and the gateway asking it for keys."""
    secret = secrets.token_urlsafe(32)
    port = free_port()
    server = LiveServer(
        tmp_path,
        extra_env={
            "WARREN_SSH_SECRETS": secret,
            "WARREN_SSH_PORT": str(port),
            "WARREN_SSH_LOGIN": gateway_account.pw_name,
            "WARREN_EXEC_AGENT_SOCKET": str(ssh_agent.socket_path),
            "WARREN_HOMES_ROOT": str(ssh_agent.homes),
            "WARREN_WWW_ROOT": str(ssh_agent.www),
            "WARREN_RUN_DIR": str(ssh_agent.run_dir),
        },
    )
    try:
        with running_gateway(
            lookup_base=server.url,
            secret=secret,
            account=gateway_account,
            agent=ssh_agent,
            directory=gateway_dir,
            port=port,
        ) as gateway:
            yield Site(server.url, server.log), gateway
    finally:
        server.stop()


def test_add_a_key_log_in_with_the_shown_command_copy_a_file_delete_the_key(
    ssh_site, browser, ssh_agent, tmp_path
):
    site, gateway = ssh_site
    alice = person("alice")
    alice.plan = Plan.objects.get(slug="hacker")
    alice.save(update_fields=["plan"])
    ssh_agent.user(alice.pk, alice.username)
    laptop = SshUser(alice, tmp_path, gateway)
    log_in_as(browser, site, alice)

    # On the Account tab she pastes her public key and sees its fingerprint.
    browser.get(site.url + "/account/")
    wait_for_text(browser, "SSH access")
    fill(browser, "keys", laptop.public_key)
    submit(browser, "Add key")
    wait_for_text(browser, "SSH key added")
    listed = subprocess.run(
        ["ssh-keygen", "-lf", str(laptop.key.with_suffix(".pub"))],
        capture_output=True,
        text=True,
        check=True,
    )
    shown = listed.stdout.split()[1]
    assert shown in browser.find_element(By.CSS_SELECTOR, ".ssh-keys").text

    # She types the command the page shows, with her key: she is in her sandbox.
    command = browser.find_element(By.CSS_SELECTOR, ".ssh-command").text
    match = re.fullmatch(r"ssh -p (\d+) ([\w-]+)@localhost", command)
    assert match and int(match[1]) == gateway.port and match[2] == gateway.login
    landed = laptop.ssh("echo $(id -u) $PWD > from-ssh.txt; cat from-ssh.txt")
    assert landed.returncode == 0, landed.stderr
    assert landed.stdout == f"{alice.uid} /home/alice\n"

    # What she wrote over SSH is on her Files tab.
    browser.get(site.url + "/files/browse/home/alice/")
    wait_for_text(browser, "from-ssh.txt")

    # She deletes the key: the next login with it is refused.
    browser.get(site.url + "/account/")
    browser.find_element(By.CSS_SELECTOR, ".ssh-keys button").click()
    wait_for_text(browser, "no longer logs in")
    refused = laptop.ssh("true")
    assert refused.returncode == 255 and "Permission denied (publickey)" in refused.stderr
