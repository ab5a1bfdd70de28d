import random

import factory
from allauth.account.models import EmailAddress

from accounts.models import Plan, User
from servers.models import Server

DEFAULT_PASSWORD = "correct horse battery staple"


class ServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Server
        django_get_or_create = ("kind", "hostname")

    kind = Server.Kind.FILE
    hostname = "127.0.0.1"


class UserFactory(factory.django.DjangoModelFactory):
    """A confirmed user on the free plan, able to log in with DEFAULT_PASSWORD."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    plan = factory.LazyFunction(lambda: Plan.objects.get(slug="beginner"))
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def confirmed_email(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


def person(username: str) -> User:
    """A user for tests that provision homes on the real agents.

    A random pk (within the agent harness's uid span): the same username with the same uid
    in two tests within one second would send the fileserver an identical signed request,
    which it rightly refuses as a replay.
    """
    return UserFactory(username=username, pk=random.randrange(1000, 9000))
