"""Reads for the Databases tab: each engine's section, with connection details and sizes."""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.limits import effective_limits
from accounts.models import Plan
from databases.engines import DatabaseServerDown, EngineError, engine
from databases.models import Database, DatabaseAccount, DatabaseServer


@dataclass
class Section:
    kind: str
    allowed: bool
    account: DatabaseAccount | None
    server: DatabaseServer | None
    databases: list[Database] = field(default_factory=list)
    sizes: dict[str, int] | None = None  # None: the server did not answer

    @property
    def busy(self) -> bool:
        """Something is being made or dropped: the page looks again shortly."""
        creating = self.account is not None and self.account.state == "creating"
        return creating or any(d.state in ("creating", "deleting") for d in self.databases)

    def size_of(self, database: Database) -> int | None:
        if self.sizes is None or self.server is None:
            return None
        return self.sizes.get(self.server.name_prefix + database.name)

    @property
    def example_database(self) -> str:
        ready = [d.name for d in self.databases if d.state == "ready"]
        if ready:
            return ready[0]
        return f"{self.account.user.username}$default" if self.account else ""

    @property
    def engine_database(self) -> str:
        return (self.server.name_prefix if self.server else "") + self.example_database

    @property
    def django_snippet(self) -> str:
        backend = "mysql" if self.kind == DatabaseServer.Kind.MYSQL else "postgresql"
        return (
            "DATABASES = {\n"
            '    "default": {\n'
            f'        "ENGINE": "django.db.backends.{backend}",\n'
            f'        "NAME": "{self.engine_database}",\n'
            f'        "USER": "{self.account.login}",\n'
            '        "PASSWORD": "<your password>",\n'
            f'        "HOST": "{self.server.host}",\n'
            f'        "PORT": "{self.server.port}",\n'
            "    }\n"
            "}"
        )

    @property
    def sqlalchemy_url(self) -> str:
        scheme = "mysql+pymysql" if self.kind == DatabaseServer.Kind.MYSQL else "postgresql+psycopg"
        return (
            f"{scheme}://{self.account.login}:<your password>@{self.server.host}:"
            f"{self.server.port}/{self.engine_database}"
        )


def database_sections(user) -> dict[str, Section]:
    """The MySQL and PostgreSQL sections of the user's Databases tab."""
    accounts = {
        account.server.kind: account
        for account in DatabaseAccount.objects.filter(user=user).select_related("server", "user")
    }
    databases = list(Database.objects.filter(account__user=user).select_related("account"))
    postgres_allowed = effective_limits(user).postgres_allowed
    sections = {}
    for kind in (DatabaseServer.Kind.MYSQL, DatabaseServer.Kind.POSTGRES):
        account = accounts.get(kind)
        sections[kind] = Section(
            kind=kind,
            allowed=kind == DatabaseServer.Kind.MYSQL or postgres_allowed,
            account=account,
            server=account.server if account else None,
            databases=[d for d in databases if account and d.account_id == account.pk],
        )
        sections[kind].sizes = _sizes(sections[kind])
    return sections


def _sizes(section: Section) -> dict[str, int] | None:
    names = [section.server.name_prefix + d.name for d in section.databases if d.state == "ready"]
    if not names:
        return {}
    try:
        return engine(section.server).sizes(names=names)
    except (DatabaseServerDown, EngineError):
        return None


def database_of(user, database_id: int) -> Database | None:
    """The user's database with that id (None for anyone else's)."""
    return (
        Database.objects.select_related("account__server", "account__user")
        .filter(pk=database_id, account__user=user)
        .first()
    )


def plans_with_postgres() -> list[Plan]:
    return list(
        Plan.objects.filter(is_public=True, postgres_allowed=True).order_by("monthly_price_minor")
    )
