from django.shortcuts import render

from accounts.limits import effective_limits
from accounts.models import Plan


def index(request):
    if effective_limits(request.user).postgres_allowed:
        postgres = "your plan includes PostgreSQL."
    else:
        with_postgres = Plan.objects.filter(is_public=True, postgres_allowed=True)
        names = ", ".join(
            with_postgres.order_by("monthly_price_minor").values_list("name", flat=True)
        )
        postgres = (
            f"PostgreSQL comes with the {names} plan{'s' if ',' in names else ''}."
            if names
            else "PostgreSQL is not part of any plan so far."
        )
    return render(
        request,
        "empty_state.html",
        {
            "title": "Databases",
            "lead": "MySQL and PostgreSQL for your apps. Coming soon: not available yet.",
            "body": (
                "Here you will create a database with one click and connect to it from your "
                "consoles and web apps."
            ),
            "plan_note": f"When databases arrive, {postgres}",
        },
    )
