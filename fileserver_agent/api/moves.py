"""``POST /v1/homes/<username>/sync``: one pass of copying a home to another file server."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from fileserver_agent.api import agent_config, json_body
from fileserver_agent.moves import home_sync
from fileserver_agent.validation import parse_sync_body, parse_username

bp = Blueprint("moves", __name__)

# A first pass of a big home takes a while; Warren calls this from a task.
SYNC_TIMEOUT_SECONDS = 3600


@bp.post("/homes/<username>/sync")
def sync(username: str):
    """rsync the home and web directory to ``{"homes", "www"}`` roots of another server."""
    config = agent_config()
    username = parse_username(username)
    uid, homes, www = parse_sync_body(json_body(), min_uid=config.min_uid)
    seconds = home_sync(
        homes_root=config.homes_root,
        www_root=config.www_root,
        username=username,
        uid=uid,
        homes_destination=homes,
        www_destination=www,
        timeout=SYNC_TIMEOUT_SECONDS,
    )
    current_app.logger.info("synced %s to %s in %.1f s", username, homes, seconds)
    return jsonify(username=username, seconds=round(seconds, 3))
