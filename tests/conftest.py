import pytest
from django.test import Client

from tests.factories import DEFAULT_PASSWORD, UserFactory


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def user(db):
    """The owner: the person whose things a test looks at."""
    return UserFactory(username="alice")


@pytest.fixture
def outsider(db):
    """Someone else with an account, who must never see the owner's things."""
    return UserFactory(username="mallory")


@pytest.fixture
def staff_user(db):
    return UserFactory(username="operator1", is_staff=True, is_superuser=True)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(user):
    return _logged_in(user)


@pytest.fixture
def outsider_client(outsider):
    return _logged_in(outsider)


@pytest.fixture
def staff_client(staff_user):
    return _logged_in(staff_user)
