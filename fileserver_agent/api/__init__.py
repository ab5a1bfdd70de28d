"""Version 1 of the agent's JSON API: one blueprint per resource."""

from __future__ import annotations

from flask import Flask, current_app, request

from fileserver_agent.config import AgentConfig
from fileserver_agent.quota import QuotaBackend
from fileserver_agent.validation import parse_json_body


def register_blueprints(app: Flask) -> None:
    """Mount the v1 blueprints."""
    from fileserver_agent.api import acls, health, homes, moves, quotas, snapshots

    for blueprint in (homes.bp, acls.bp, quotas.bp, health.bp, snapshots.bp, moves.bp):
        app.register_blueprint(blueprint, url_prefix="/v1")


def agent_config() -> AgentConfig:
    """The validated configuration of the running agent."""
    return current_app.extensions["warren_config"]


def quota_backend() -> QuotaBackend:
    """The quota backend the configuration chose."""
    return current_app.extensions["warren_quota_backend"]


def json_body():
    """The request body as JSON, or a 400 saying why not."""
    return parse_json_body(request.get_data(cache=True))
