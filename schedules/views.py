from django.shortcuts import render

from accounts.limits import effective_limits


def index(request):
    allowed = effective_limits(request.user).max_scheduled_tasks
    return render(
        request,
        "empty_state.html",
        {
            "title": "Tasks",
            "lead": "Run scripts on a schedule. Coming soon: not available yet.",
            "body": (
                "Here you will set scripts to run every day or every hour, as you, and read "
                "their output afterwards."
            ),
            "plan_note": (
                f"When tasks arrive, your plan includes {allowed} scheduled "
                f"task{'' if allowed == 1 else 's'}."
                if allowed
                else "When tasks arrive, your plan will not include any: see the plans on "
                "your Account page."
            ),
        },
    )
