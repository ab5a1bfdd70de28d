"""Start-up configuration: good values load, bad ones fail with the variable's name."""

from __future__ import annotations

import pytest

from fileserver_agent import create_app
from fileserver_agent.config import ConfigError, load_config
from tests.fileserver_agent.conftest import SECRET, agent_environment


def config_error(env) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    return str(caught.value)


def test_a_complete_environment_loads(tmp_path):
    config = load_config(agent_environment(tmp_path, WARREN_AGENT_SECRETS=f"{SECRET}, {SECRET}2"))
    assert config.homes_root == tmp_path / "homes"
    assert config.backend == "du"
    assert config.secrets == (SECRET, f"{SECRET}2")
    assert config.state_dir.is_dir() and config.www_root.is_dir()


def test_missing_secrets_are_named(tmp_path):
    env = agent_environment(tmp_path)
    del env["WARREN_AGENT_SECRETS"]
    assert "WARREN_AGENT_SECRETS is not set" in config_error(env)


def test_only_commas_is_no_secret_at_all(tmp_path):
    assert "WARREN_AGENT_SECRETS" in config_error(
        agent_environment(tmp_path, WARREN_AGENT_SECRETS=" , ,")
    )


def test_a_short_secret_is_refused(tmp_path):
    message = config_error(agent_environment(tmp_path, WARREN_AGENT_SECRETS=f"{SECRET},short"))
    assert "WARREN_AGENT_SECRETS: secret #2 is shorter than 16" in message


def test_an_unknown_backend_is_refused(tmp_path):
    message = config_error(agent_environment(tmp_path, WARREN_AGENT_BACKEND="xfs"))
    assert "WARREN_AGENT_BACKEND='xfs': must be one of du, ext4" in message


def test_a_missing_homes_root_is_refused_not_created(tmp_path):
    missing = tmp_path / "not-mounted"
    message = config_error(agent_environment(tmp_path, WARREN_HOMES_ROOT=str(missing)))
    assert f"WARREN_HOMES_ROOT={missing}: no such directory" in message
    assert not missing.exists()


def test_a_relative_path_is_refused(tmp_path):
    message = config_error(agent_environment(tmp_path, WARREN_WWW_ROOT="var/www"))
    assert "WARREN_WWW_ROOT='var/www': must be an absolute path" in message


def test_a_bad_value_leaves_no_directories_behind(tmp_path):
    env = agent_environment(tmp_path, WARREN_AGENT_MIN_UID="lots")
    assert "WARREN_AGENT_MIN_UID='lots': must be a whole number" in config_error(env)
    assert not (tmp_path / "www").exists()
    assert not (tmp_path / "state").exists()


def test_a_non_numeric_rescan_period_is_named(tmp_path):
    env = agent_environment(tmp_path, WARREN_DU_RESCAN_SECONDS="soon")
    assert "WARREN_DU_RESCAN_SECONDS='soon'" in config_error(env)


def test_ext4_needs_the_quota_filesystem(tmp_path):
    env = agent_environment(tmp_path, WARREN_AGENT_BACKEND="ext4")
    assert "WARREN_QUOTA_FILESYSTEM is not set" in config_error(env)


def test_ext4_without_the_quota_tools_names_the_search_path(tmp_path):
    empty = tmp_path / "no-tools"
    empty.mkdir()
    env = agent_environment(
        tmp_path,
        WARREN_AGENT_BACKEND="ext4",
        WARREN_QUOTA_FILESYSTEM=str(tmp_path),
        WARREN_QUOTA_TOOLS_PATH=str(empty),
    )
    with pytest.raises(ConfigError) as caught:
        create_app(env)
    assert f"WARREN_QUOTA_TOOLS_PATH={empty}: setquota not found" in str(caught.value)
    assert "apt-get install quota" in str(caught.value)


def test_a_config_file_is_read_and_the_environment_wins(tmp_path):
    config_file = tmp_path / "agent.env"
    config_file.write_text(
        "# fileserver agent\n"
        f"WARREN_HOMES_ROOT={tmp_path / 'homes'}\n"
        'WARREN_AGENT_MIN_UID="2000"\n'
        "WARREN_AGENT_BACKEND=ext4\n"
    )
    (tmp_path / "homes").mkdir()
    config = load_config(
        {
            "WARREN_AGENT_CONFIG": str(config_file),
            "WARREN_AGENT_BACKEND": "du",
            "WARREN_AGENT_SECRETS": SECRET,
            "WARREN_WWW_ROOT": str(tmp_path / "www"),
            "WARREN_AGENT_STATE_DIR": str(tmp_path / "state"),
        }
    )
    assert config.min_uid == 2000
    assert config.backend == "du"


def test_a_malformed_config_file_line_is_reported_with_its_number(tmp_path):
    config_file = tmp_path / "agent.env"
    config_file.write_text("WARREN_HOMES_ROOT=/srv/homes\nthis is not an assignment\n")
    message = config_error({"WARREN_AGENT_CONFIG": str(config_file)})
    assert f"WARREN_AGENT_CONFIG={config_file}: line 2 is not KEY=VALUE" in message
