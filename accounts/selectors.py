from accounts.models import Plan


def cheapest_plan_allowing(*, field: str, count: int) -> Plan | None:
    """The cheapest public plan whose ``field`` limit admits ``count`` (for upgrade hints).

    ``field`` is a count limit such as ``max_consoles``; a NULL limit means unlimited.
    """
    for plan in Plan.objects.filter(is_public=True).order_by("monthly_price_minor", "pk"):
        limit = getattr(plan, field)
        if limit is None or count <= limit:
            return plan
    return None


def public_plans():
    return Plan.objects.filter(is_public=True).order_by("display_order", "monthly_price_minor")
