from django.shortcuts import render


def index(request):
    return render(
        request,
        "empty_state.html",
        {
            "title": "Consoles",
            "lead": "Bash and Python consoles in your browser.",
            "body": (
                "Start a Bash or Python console that keeps running when you close the tab. "
                "Consoles are on their way."
            ),
        },
    )
