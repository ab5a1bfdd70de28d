"""``python -m fileserver_agent --host H --port P``: the agent on Werkzeug's threaded server.

This is the embedded default (one machine, one command). Production runs the same app
under uWSGI; see deploy/uwsgi/fileserver-agent.ini.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from werkzeug.serving import make_server

from fileserver_agent import create_app
from fileserver_agent.config import ConfigError
from fileserver_agent.metrics import serve_metrics

DEFAULT_PORT = 8701


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, validate the configuration and serve until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m fileserver_agent", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port, 0 for any free one ({DEFAULT_PORT})"
    )
    parser.add_argument("--config", help="KEY=VALUE file, as WARREN_AGENT_CONFIG")
    args = parser.parse_args(argv)
    if args.config:
        os.environ["WARREN_AGENT_CONFIG"] = args.config
    try:
        app = create_app()
    except ConfigError as exc:
        print(f"fileserver agent: configuration error: {exc}", file=sys.stderr)
        return 2
    server = make_server(args.host, args.port, app, threaded=True)
    port = server.socket.getsockname()[1]
    config = app.extensions["warren_config"]
    if config.metrics_address:
        metrics_host = config.metrics_address.rpartition(":")[0]
        metrics_port = serve_metrics(app, config.metrics_address).server_address[1]
        # Before the listening line, which tests and the run command wait for.
        print(f"fileserver agent metrics on http://{metrics_host}:{metrics_port}/metrics")
    backend = app.extensions["warren_quota_backend"].name
    # Tests and the run command wait for this exact line (it carries the real port).
    print(f"fileserver agent listening on http://{args.host}:{port} (backend {backend})")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _exit_on_signal(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
