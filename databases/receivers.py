"""Django's pre_delete on User: a deleted account's databases go from every server."""

from databases import services


def user_deleting(sender, *, instance, **kwargs) -> None:
    services.database_accounts_remove(user=instance)
