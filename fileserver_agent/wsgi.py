"""WSGI entry point for uWSGI: ``module = fileserver_agent.wsgi:app``.

The metrics thread starts here, in the worker (the template sets ``lazy-apps``): a thread
started in uWSGI's master before the fork would serve the master's never-moving counts.
"""

from fileserver_agent import create_app
from fileserver_agent.metrics import serve_metrics

app = create_app()
if app.extensions["warren_config"].metrics_address:
    serve_metrics(app, app.extensions["warren_config"].metrics_address)
