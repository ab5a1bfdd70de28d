from django.db.models import Count

from servers.models import Server


def server_with_fewest_users(*, kind: str) -> Server | None:
    """The active server of ``kind`` holding the fewest users (new homes go there)."""
    return (
        Server.objects.filter(kind=kind, is_active=True)
        .annotate(user_count=Count("users"))
        .order_by("user_count", "pk")
        .first()
    )


def first_active_server(*, kind: str) -> Server | None:
    return Server.objects.filter(kind=kind, is_active=True).order_by("pk").first()
