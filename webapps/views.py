from django.shortcuts import render


def index(request):
    return render(
        request,
        "empty_state.html",
        {
            "title": "Web apps",
            "lead": "Host a Flask, Django or Bottle site.",
            "body": (
                "Pick a framework and a Python version and your site answers at your own address "
                "within seconds. Web apps are on their way."
            ),
        },
    )
