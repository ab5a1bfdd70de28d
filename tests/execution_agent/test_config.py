"""The agent's configuration: defaults, and start-up failures that name the variable."""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from execution_agent.config import ConfigError, load_config


def test_defaults_match_the_spec():
    config = load_config({})
    assert config.socket_path == Path("/run/warren/execution-agent.sock")
    assert config.homes_root == Path("/home") and config.www_root == Path("/var/www-warren")
    assert config.uid_base == 1_000_000 and config.cgroup_prefix == "warren"
    assert config.run_dir == Path("/run/warren") and config.production is False
    assert 0 in config.allowed_uids
    # User code may listen on no TCP port unless the operator lists some.
    assert config.sandbox_bind_ports == () and config.landlock_optional is False


def test_values_are_read_from_the_environment():
    config = load_config(
        {
            "WARREN_EXEC_AGENT_SOCKET": "/srv/agent.sock",
            "WARREN_EXEC_AGENT_GROUP": "4242",
            "WARREN_EXEC_AGENT_ALLOWED_UIDS": "0, 998",
            "WARREN_UID_BASE": "2000000",
            "WARREN_CGROUP_PREFIX": "warren/test",
            "WARREN_ENV": "production",
            "WARREN_SANDBOX_BIND_PORTS": "9001,9000",
            "WARREN_SANDBOX_LANDLOCK_OPTIONAL": "1",
            "WARREN_UID_LAST": "2009999",
        }
    )
    assert config.uid_last == 2_009_999
    assert config.sandbox_bind_ports == (9000, 9001) and config.landlock_optional is True
    assert config.socket_path == Path("/srv/agent.sock") and config.socket_gid == 4242
    assert config.allowed_uids == frozenset({0, 998}) and config.uid_base == 2_000_000
    assert config.cgroup_prefix == "warren/test" and config.production is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WARREN_EXEC_AGENT_SOCKET", "relative.sock"),
        ("WARREN_HOMES_ROOT", "home"),
        ("WARREN_UID_BASE", "lots"),
        ("WARREN_UID_BASE", "10"),
        ("WARREN_EXEC_AGENT_ALLOWED_UIDS", "0,warren"),
        ("WARREN_EXEC_AGENT_GROUP", "no-such-group-here"),
        ("WARREN_CGROUP_PREFIX", "../escape"),
        ("WARREN_CGROUP_PREFIX", "/absolute"),
        ("WARREN_ENV", "prod"),
        ("WARREN_CGROUP_FAVOR_DYNMODS", "maybe"),
        ("WARREN_SANDBOX_BIND_PORTS", "8000,http"),
        ("WARREN_SANDBOX_LANDLOCK_OPTIONAL", "maybe"),
        ("WARREN_UID_LAST", "999"),  # below the uid base
        ("WARREN_WEBAPPS_HTTPS_PORT", "8080"),  # the HTTP port's default
        ("WARREN_WEBAPPS_HTTPS_ADDRESS", "localhost"),
        ("WARREN_WEBAPPS_WILDCARD_CERT", "wildcard.pem"),
        ("WARREN_EXEC_AGENT_SSH_UIDS", "warren-ssh"),
    ],
)
def test_malformed_values_fail_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_config({name: value})


def test_ssh_peers_are_the_gateway_login_by_default_or_as_listed():
    assert load_config({"WARREN_SSH_LOGIN": "no-such-account-here"}).ssh_uids == frozenset()
    nobody = pwd.getpwnam("nobody").pw_uid
    assert load_config({"WARREN_SSH_LOGIN": "nobody"}).ssh_uids == frozenset({nobody})
    assert load_config({"WARREN_EXEC_AGENT_SSH_UIDS": "997, 996"}).ssh_uids == {997, 996}
