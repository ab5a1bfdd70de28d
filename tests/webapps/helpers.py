"""Shared steps of the web app tests: make apps through the Web tab, touch files as the user."""

import os
import re

from django.urls import reverse

from servers.agents import execution_agent, user_ref
from webapps.models import WebApp


def create_app(client, *, framework="flask", domain="", python="3.11") -> WebApp:
    response = client.post(
        reverse("webapps:new"),
        {"framework": framework, "python_version": python, "domain": domain},
    )
    errors = re.findall(r'class="form-error"[^>]*>([^<]*)<', response.content.decode())
    assert response.status_code == 302, errors
    return WebApp.objects.order_by("-pk").first()


def write_home_file(user, path: str, text: str) -> None:
    fd, _ = execution_agent().fs_open(user=user_ref(user), path=path, mode="w")
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def run_as(user, *argv: str, stdin: str | None = None) -> dict:
    result = execution_agent().run(user=user_ref(user), argv=list(argv), stdin=stdin)
    assert result["returncode"] == 0, result
    return result


def write_wsgi_file(webapp: WebApp, text: str) -> None:
    """What saving in the editor does: the file under /var/www changes, as the user."""
    run_as(webapp.user, "sh", "-c", f"cat > {webapp.wsgi_file}", stdin=text)


def reload(client, webapp: WebApp):
    return client.post(reverse("webapps:reload", args=[webapp.pk]), HTTP_HX_REQUEST="true")
