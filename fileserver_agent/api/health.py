"""``GET /v1/health``: can this agent do its job right now?"""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify

from fileserver_agent import API_VERSION
from fileserver_agent.api import agent_config, quota_backend
from fileserver_agent.commands import CommandFailed
from fileserver_agent.quota import QuotaBackendError

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    """200 with facts when homes can be created and quotas applied; 503 naming what is wrong."""
    config = agent_config()
    backend = quota_backend()
    problems = []
    if not os.access(config.homes_root, os.W_OK | os.X_OK):
        problems.append(f"homes root {config.homes_root} is not writable")
    if not os.access(config.www_root, os.W_OK | os.X_OK):
        problems.append(f"web root {config.www_root} is not writable")
    try:
        backend_facts = backend.check()
    except (CommandFailed, QuotaBackendError, OSError) as exc:
        backend_facts = {}
        problems.append(f"{backend.name} backend: {exc}")
    body = {
        "status": "error" if problems else "ok",
        "api_version": API_VERSION,
        "backend": backend.name,
        "homes_root": str(config.homes_root),
        "www_root": str(config.www_root),
        "backend_facts": backend_facts,
        "problems": problems,
    }
    if problems:
        current_app.logger.warning("health check failed: %s", "; ".join(problems))
    return jsonify(body), 503 if problems else 200
