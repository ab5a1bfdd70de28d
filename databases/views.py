from django.shortcuts import render


def index(request):
    return render(
        request,
        "empty_state.html",
        {
            "title": "Databases",
            "lead": "MySQL and PostgreSQL for your apps.",
            "body": (
                "Create a database with one click and connect to it from your consoles and web "
                "apps. Databases are on their way."
            ),
        },
    )
