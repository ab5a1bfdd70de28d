"""``PUT /v1/quotas/<uid>``, ``PUT /v1/quotas`` (batch) and ``GET /v1/usage/<uid>``."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from fileserver_agent.api import agent_config, json_body, quota_backend
from fileserver_agent.metrics import agent_metrics
from fileserver_agent.validation import (
    parse_quota_batch,
    parse_quota_body,
    parse_uid_segment,
    refuse_beyond_capacity,
)

bp = Blueprint("quotas", __name__)


@bp.put("/quotas/<uid>")
def set_quota(uid: str):
    """Apply one user's soft and hard limits."""
    limits = parse_quota_body(parse_uid_segment(uid, min_uid=agent_config().min_uid), json_body())
    backend = quota_backend()
    refuse_beyond_capacity([limits], backend.capacity_bytes())
    applied = backend.set_quota(limits)
    agent_metrics(current_app).quotas_applied.inc()
    current_app.logger.info(
        "quota uid=%d soft=%d hard=%d", applied.uid, applied.soft_bytes, applied.hard_bytes
    )
    return jsonify(
        uid=applied.uid,
        soft_bytes=applied.soft_bytes,
        hard_bytes=applied.hard_bytes,
        backend=backend.name,
    )


@bp.put("/quotas")
def set_quotas():
    """Apply a list of users' limits in one call (the nightly re-apply of every quota)."""
    batch = parse_quota_batch(json_body(), min_uid=agent_config().min_uid)
    backend = quota_backend()
    refuse_beyond_capacity(batch, backend.capacity_bytes())
    started = time.monotonic()
    applied = backend.set_quotas(batch)
    agent_metrics(current_app).quotas_applied.inc(applied)
    current_app.logger.info(
        "batch of %d quotas applied in %.2f s", applied, time.monotonic() - started
    )
    return jsonify(applied=applied, backend=backend.name)


@bp.get("/usage/<uid>")
def usage(uid: str):
    """Return used bytes beside the user's limits."""
    number = parse_uid_segment(uid, min_uid=agent_config().min_uid)
    measured = quota_backend().usage(number)
    agent_metrics(current_app).usage_measured(
        number, used=measured.used_bytes, soft=measured.soft_bytes, hard=measured.hard_bytes
    )
    return jsonify(
        used_bytes=measured.used_bytes,
        soft_bytes=measured.soft_bytes,
        hard_bytes=measured.hard_bytes,
        backend=measured.backend,
    )
