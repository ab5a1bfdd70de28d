import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.factories import ServerFactory

pytestmark = pytest.mark.django_db

WARREN_APPS = {"accounts", "servers", "files", "consoles", "webapps", "schedules", "databases"}


def warren_models():
    return [m for m in apps.get_models() if m._meta.app_label in WARREN_APPS]


def test_every_warren_model_is_registered_in_the_admin():
    missing = [m._meta.label for m in warren_models() if not admin.site.is_registered(m)]
    assert missing == []


@pytest.mark.parametrize("model", warren_models(), ids=lambda m: m._meta.label)
def test_staff_can_list_search_and_add_every_model(staff_client, user, model):
    ServerFactory()
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(changelist, {"q": "alice"}).status_code == 200
    add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    assert staff_client.get(add).status_code == 200


def test_the_user_list_shows_uid_and_plan(staff_client, user):
    html = staff_client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert str(user.uid) in html
    assert "Beginner" in html


def test_a_non_staff_user_cannot_reach_the_admin(alice_client):
    response = alice_client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
