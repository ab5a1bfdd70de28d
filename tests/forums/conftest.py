from datetime import timedelta

import pytest
from django.utils import timezone

from forums.models import Category
from tests.factories import UserFactory
from tests.fakes import akismet as fake_akismet


@pytest.fixture
def category(db):
    return Category.objects.create(name="Help", slug="help", description="Ask away")


@pytest.fixture
def other_category(db):
    return Category.objects.create(name="Show and tell", slug="show", position=1)


@pytest.fixture
def akismet_answers(settings):
    """Choose Akismet's answer: "ham", "spam", "discard", "unreachable", "invalid_key"."""
    fake_akismet.CALLS.clear()

    def use(answer: str):
        name = {
            "ham": "HamClient",
            "spam": "SpamClient",
            "discard": "DiscardClient",
            "unreachable": "UnreachableClient",
            "invalid_key": "InvalidKeyClient",
        }[answer]
        settings.WARREN_AKISMET_CLIENT = f"tests.fakes.akismet.{name}"

    use("ham")
    yield use
    fake_akismet.CALLS.clear()


@pytest.fixture
def calls():
    return fake_akismet.CALLS


@pytest.fixture
def veteran(db):
    """An account old enough not to be rate-limited."""
    return UserFactory(username="vera", date_joined=timezone.now() - timedelta(days=400))
