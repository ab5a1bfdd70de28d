"""WSGI entry point for uWSGI: ``module = fileserver_agent.wsgi:app``."""

from fileserver_agent import create_app

app = create_app()
