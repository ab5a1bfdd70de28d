from django.shortcuts import render


def index(request):
    return render(
        request,
        "empty_state.html",
        {
            "title": "Tasks",
            "lead": "Run scripts on a schedule.",
            "body": (
                "Scheduled tasks run your scripts every day or every hour, as you, with their "
                "output kept for you to read. Scheduled tasks are on their way."
            ),
        },
    )
