"""Hello-world projects for the wizard's frameworks, written into the home as the user.

Flask, Bottle and Django come from the distribution (python3-flask, python3-bottle,
python3-django), so the quick-starts import without a virtualenv.
"""

import os

from config.errors import AppError
from servers.agents import AgentError, AgentUnavailable, user_ref
from webapps.agent import files_agent
from webapps.models import WebApp

PROJECT = "mysite"

FLASK_APP = """\
# A very simple Flask Hello World app for you to get started with...

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello_world():
    return "Hello from Flask!"
"""

BOTTLE_APP = """\
# A very simple Bottle Hello World app for you to get started with...

from bottle import default_app, route


@route("/")
def hello_world():
    return "Hello from Bottle!"


application = default_app()
"""

FILES = {
    WebApp.Framework.FLASK: ("flask_app.py", FLASK_APP),
    WebApp.Framework.BOTTLE: ("bottle_app.py", BOTTLE_APP),
}


def source_dir_for(user, framework: str) -> str:
    if framework == WebApp.Framework.MANUAL:
        return ""
    return f"{user.home_path}/{PROJECT}"


def create_project(*, user, framework: str, python_version: str, domain: str) -> str:
    """Write the framework's hello app under ~/mysite (keeping files already there)."""
    if framework == WebApp.Framework.MANUAL:
        return user.home_path
    agent = files_agent()
    try:
        if framework == WebApp.Framework.DJANGO:
            return f"{user.home_path}/{_django_project(agent, user, python_version, domain)}"
        _write_once(agent, user, framework)
    except AgentUnavailable:
        raise AppError("The web server is unreachable; try again in a moment.") from None
    except AgentError as exc:
        raise AppError(f"Could not create ~/{PROJECT}: {exc.message}") from None
    return source_dir_for(user, framework)


def _write_once(agent, user, framework: str) -> None:
    name, text = FILES[framework]
    try:
        agent.fs_mkdir(user=user_ref(user), path=PROJECT)
    except AgentError as exc:
        if exc.errno != "EEXIST":
            raise
    try:
        fd, _ = agent.fs_open(user=user_ref(user), path=f"{PROJECT}/{name}", mode="x")
    except AgentError as exc:
        if exc.errno == "EEXIST":
            return  # never overwrite the user's own code
        raise
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _exists(agent, user, path: str) -> bool:
    try:
        agent.fs_stat(user=user_ref(user), path=path)
    except AgentError as exc:
        if exc.code != "not_found":
            raise
        return False
    return True


def _django_project_name(agent, user) -> str:
    """~/mysite, unless something other than a Django project is already there."""
    for suffix in ("", *map(str, range(2, 10))):
        name = PROJECT + suffix
        if not _exists(agent, user, name) or _exists(agent, user, f"{name}/manage.py"):
            return name
    raise AgentError("failed", "~/mysite to ~/mysite9 are all taken")


def _django_project(agent, user, python_version: str, domain: str) -> str:
    name = _django_project_name(agent, user)
    if _exists(agent, user, f"{name}/manage.py"):
        return name  # already there: the WSGI file points at it as it is
    result = agent.run(
        user=user_ref(user),
        argv=[f"/usr/bin/python{python_version}", "-m", "django", "startproject", name],
        timeout=60,
    )
    if result["returncode"] != 0:
        output = (result["stderr"] or result["stdout"]).strip()[-500:]
        status = "timed out" if result["timed_out"] else f"exit status {result['returncode']}"
        raise AgentError("failed", f"django-admin startproject: {status} {output}".strip())
    # startproject allows no host names; the app's own domain must be served.
    path = f"{name}/{name}/settings.py"
    fd, _ = agent.fs_open(user=user_ref(user), path=path, mode="r")
    try:
        text = os.read(fd, 1 << 20).decode()
    finally:
        os.close(fd)
    text += f"\nALLOWED_HOSTS = [{domain!r}]\n"
    fd, _ = agent.fs_open(user=user_ref(user), path=path, mode="w")
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return name
