import pytest

from databases.checks import check_admin_passwords

pytestmark = pytest.mark.django_db


def test_deploy_check_names_a_server_whose_admin_has_no_password(mysql_server, postgres_server):
    errors = check_admin_passwords()
    assert {error.id for error in errors} == {"databases.E001"}
    assert len(errors) == 2 and "'root' without a password" in errors[0].msg
    mysql_server.admin_secret_name = "mariadb-admin"
    mysql_server.save()
    assert [str(postgres_server) in e.msg for e in check_admin_passwords()] == [True]
