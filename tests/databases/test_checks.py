import io
import socket

import pytest
from django.core.management import call_command

from databases.checks import check_admin_passwords, check_mysql_root_open
from databases.management.commands.warren_sandbox_database_ports import (
    mysql_root_takes_no_password,
)

pytestmark = pytest.mark.django_db


def test_deploy_check_names_a_server_whose_admin_has_no_password(mysql_server, postgres_server):
    errors = check_admin_passwords()
    assert {error.id for error in errors} == {"databases.E001"}
    assert len(errors) == 2 and "'root' without a password" in errors[0].msg
    mysql_server.admin_secret_name = "mariadb-admin"
    mysql_server.save()
    assert [str(postgres_server) in e.msg for e in check_admin_passwords()] == [True]


def test_deploy_check_names_a_users_mariadb_whose_root_takes_no_password(mysql_server):
    # This machine's MariaDB lets root in over TCP without a password (as CI's does).
    assert [e.id for e in check_mysql_root_open()] == ["databases.E002"]
    mysql_server.port = free_port()  # nothing there: no open root to report
    mysql_server.save()
    assert check_mysql_root_open() == []


def test_bin_run_keeps_sandboxes_away_from_a_mariadb_whose_root_takes_no_password():
    out, err = io.StringIO(), io.StringIO()
    call_command("warren_sandbox_database_ports", stdout=out, stderr=err)
    assert out.getvalue().strip() == "5433"
    assert "lets root in without a password" in err.getvalue()
    assert mysql_root_takes_no_password("127.0.0.1", free_port()) is False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
