"""``PUT``/``DELETE /v1/homes/<username>/acl/<uid>``: let a teacher's uid into a home, or not.

The body names the home's owner, ``{"uid": owner}``: the agent checks the home belongs to
that uid before changing anything, and changes it as that uid (fileserver_agent/acls.py).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from fileserver_agent.acls import home_acl_change
from fileserver_agent.api import agent_config, json_body
from fileserver_agent.validation import parse_acl_body, parse_uid_segment, parse_username

bp = Blueprint("acls", __name__)

# A big home (hundreds of thousands of files) takes a while; Warren calls this from a task.
ACL_TIMEOUT_SECONDS = 600


def _change(username: str, uid: str, *, grant: bool):
    config = agent_config()
    username = parse_username(username)
    grantee = parse_uid_segment(uid, min_uid=config.min_uid)
    owner = parse_acl_body(json_body(), min_uid=config.min_uid)
    result = home_acl_change(
        homes_root=config.homes_root,
        username=username,
        owner_uid=owner,
        grantee_uid=grantee,
        grant=grant,
        timeout=ACL_TIMEOUT_SECONDS,
    )
    verb = "granted" if grant else "revoked"
    current_app.logger.info(
        "%s uid %d on %s (%d skipped)", verb, grantee, result.path, result.skipped
    )
    body = {"username": username, "uid": grantee, "granted": grant, "skipped": result.skipped}
    return jsonify(body), 200


@bp.put("/homes/<username>/acl/<uid>")
def grant(username: str, uid: str):
    """Give uid read and write on the home, recursively, and on what is created there later."""
    return _change(username, uid, grant=True)


@bp.delete("/homes/<username>/acl/<uid>")
def revoke(username: str, uid: str):
    """Take uid's entries (access and default) off the home and everything in it."""
    return _change(username, uid, grant=False)
