"""``POST /v1/homes/<username>``: create a user's home with its skeleton, idempotently."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify

from fileserver_agent.api import agent_config, json_body, quota_backend
from fileserver_agent.homes import ensure_home
from fileserver_agent.validation import parse_home_body, parse_username

bp = Blueprint("homes", __name__)


@bp.post("/homes/<username>")
def create_home(username: str):
    """Create the home and web directory if missing; 201 when created, 200 when present."""
    config = agent_config()
    username = parse_username(username)
    uid, gid = parse_home_body(json_body(), min_uid=config.min_uid)
    backend = quota_backend()
    result = ensure_home(
        homes_root=config.homes_root,
        www_root=config.www_root,
        username=username,
        uid=uid,
        gid=gid,
        create_directory=backend.create_home_directory,
    )
    if result.created:
        backend.home_created(uid, Path(result.path))
        current_app.logger.info("created home %s for uid %d", result.path, uid)
    body = {
        "username": username,
        "uid": uid,
        "gid": gid,
        "path": result.path,
        "www_path": result.www_path,
        "created": result.created,
    }
    return jsonify(body), 201 if result.created else 200
