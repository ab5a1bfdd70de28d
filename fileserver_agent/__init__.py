"""The fileserver agent: homes and disk quotas over HMAC-signed HTTP; no Django, no database.

Run it with ``python -m fileserver_agent --host H --port P`` on the embedded default, or
under uWSGI in production (``deploy/uwsgi/fileserver-agent.ini``, module
``fileserver_agent.wsgi:app``). Callers use ``fileserver_agent.client`` and
``fileserver_agent.signing``, which import neither Flask nor the agent's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

API_VERSION = 1


def create_app(test_config: Mapping[str, str] | None = None) -> Flask:
    """Build the agent; ``test_config`` replaces the environment (same variable names)."""
    # Imported here so that importing the client or signing module never loads Flask.
    from fileserver_agent.app import build_app

    return build_app(test_config)
