from django.shortcuts import render


def index(request):
    return render(
        request,
        "empty_state.html",
        {
            "title": "Files",
            "lead": "Your home directory lives here.",
            "body": (
                "Browse, upload, edit and download the files in /home/<you>, with an editor that "
                "knows Python. Until the file browser arrives, your home is reachable from a "
                "console."
            ),
        },
    )
