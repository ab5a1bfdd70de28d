"""``POST /v1/homes/<username>/snapshot/list`` and ``.../snapshot/restore``: last night's copy.

POST, though listing reads: the body carries the uid and the path (the API takes no query
string, which the signature does not cover).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from fileserver_agent.api import agent_config, json_body
from fileserver_agent.snapshots import copy_stamp, snapshot_list, snapshot_restore
from fileserver_agent.validation import parse_snapshot_body, parse_username

bp = Blueprint("snapshots", __name__)


@bp.post("/homes/<username>/snapshot/list")
def listing(username: str):
    """The entries of a folder of the copy (name, type, size, mtime) and when it was taken."""
    config = agent_config()
    username = parse_username(username)
    uid, path, _ = parse_snapshot_body(json_body(), min_uid=config.min_uid, target=False)
    entries, truncated = snapshot_list(
        snapshot_root=config.snapshot_root, username=username, uid=uid, parts=path
    )
    return jsonify(
        path="/".join(path),
        entries=entries,
        truncated=truncated,
        copy=copy_stamp(config.snapshot_root),
    )


@bp.post("/homes/<username>/snapshot/restore")
def restore(username: str):
    """Copy a file or folder of the copy to a new name in the home, as its owner."""
    config = agent_config()
    username = parse_username(username)
    uid, path, target = parse_snapshot_body(json_body(), min_uid=config.min_uid, target=True)
    restored = snapshot_restore(
        snapshot_root=config.snapshot_root,
        homes_root=config.homes_root,
        username=username,
        uid=uid,
        source=path,
        target=target,
        timeout=config.command_timeout,
    )
    current_app.logger.info("restored %s/%s to %s", username, "/".join(path), restored.path)
    return jsonify(path=restored.path, type=restored.type), 201
