"""Admin passwords come from the secrets file, by name; a missing name is a server down."""

import json

import pytest

from databases import engines
from databases.models import DatabaseServer

pytestmark = pytest.mark.django_db


def test_the_admin_password_is_read_from_the_secrets_file_by_name(tmp_path, settings):
    secrets = tmp_path / "admins.json"
    secrets.write_text(json.dumps({"pg-main": "correct horse"}))
    settings.WARREN_DATABASE_ADMINS_FILE = secrets
    engines._admin_secrets.cache_clear()
    server = DatabaseServer(kind="postgres", host="h", port=1, admin_user="a")
    assert engines.admin_password(server) == ""
    server.admin_secret_name = "pg-main"
    assert engines.admin_password(server) == "correct horse"
    server.admin_secret_name = "other"
    with pytest.raises(engines.DatabaseServerDown, match="no admin password named 'other'"):
        engines.admin_password(server)
    engines._admin_secrets.cache_clear()


def test_the_password_never_appears_in_the_admin(staff_client, mysql_server):
    mysql_server.admin_secret_name = "mariadb-admin"
    mysql_server.save()
    page = staff_client.get(f"/admin/databases/databaseserver/{mysql_server.pk}/change/")
    assert page.status_code == 200 and b"mariadb-admin" in page.content
