"""Assembling the Flask app: configuration, quota backend, signing, error handlers, blueprints."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask

from execution_agent.config import drop_secret_variables
from fileserver_agent.config import AgentConfig, load_config

# A batch of 100,000 quota entries is about 6.5 MB of JSON.
MAX_BODY_BYTES = 16 * 1024 * 1024


def build_app(test_config: Mapping[str, str] | None = None) -> Flask:
    """Build the agent; ``test_config`` replaces the environment (same variable names)."""
    config = load_config(test_config)
    if test_config is None:
        # Read now (the shared secret lives on in config): no quota tool may inherit them.
        drop_secret_variables()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    if test_config is not None:
        app.config["TESTING"] = True
    app.extensions["warren_config"] = config
    app.extensions["warren_quota_backend"] = make_backend(config)
    _configure_logging(app)

    from fileserver_agent import api, auth, errors, metrics

    errors.register_error_handlers(app)
    metrics.install_metrics(app)
    auth.install_request_signing(app)
    api.register_blueprints(app)
    return app


def make_backend(config: AgentConfig):
    """Build the quota backend the configuration names."""
    if config.backend == "ext4":
        from fileserver_agent.quota.ext4 import Ext4QuotaBackend

        return Ext4QuotaBackend(
            filesystem=config.quota_filesystem,
            tools_path=config.quota_tools_path,
            timeout=config.command_timeout,
        )
    if config.backend == "btrfs":
        from fileserver_agent.quota.btrfs import BtrfsQuotaBackend

        return BtrfsQuotaBackend(
            homes_root=config.homes_root,
            www_root=config.www_root,
            state_dir=config.state_dir,
            rescan_seconds=config.du_rescan_seconds,
        )
    from fileserver_agent.quota.du import DuQuotaBackend

    return DuQuotaBackend(
        homes_root=config.homes_root,
        www_root=config.www_root,
        state_dir=config.state_dir,
        rescan_seconds=config.du_rescan_seconds,
    )


def _configure_logging(app: Flask) -> None:
    logger = logging.getLogger("fileserver_agent")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
