"""The HTTP plumbing the fake gateways share: a threaded local server handing each request to
``fake.handle`` and counting calls, with switches to fail the next requests (500, 429 with
Retry-After, a hang longer than the client's timeout)."""

import contextlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Reply:
    def __init__(self, status, body=None, headers: dict | None = None, *, html=None, after=None):
        self.status, self.body, self.headers = status, body, headers or {}
        # A hosted page (str) instead of JSON; ``after`` runs outside the fake's lock before
        # the answer goes out (webhooks to Warren, which may call the fake back meanwhile).
        self.html, self.after = html, after


class FakeHttpServer:
    def __init__(self):
        self.lock = threading.RLock()
        self.calls: Counter = Counter()  # "GET /v1/subscriptions" -> count
        self.failures: list[Reply | str] = []  # consumed one per request: a Reply, or "hang"
        self.fail_paths: dict[str, Reply] = {}  # path -> a reply for every request to it
        self.hang_seconds = 3.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes: without this, Nagle and delayed ACKs
            # add 40 ms to every keep-alive request.
            disable_nagle_algorithm = True

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                reply = fake._dispatch(self.command, parts.path, query, self.headers, body)
                if reply.after is not None:
                    reply.after()
                if reply.html is not None:
                    payload, kind = reply.html.encode(), "text/html; charset=utf-8"
                else:
                    kind = "application/json"
                    payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                # The client may have given up (a timeout test): nothing to tell it then.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _dispatch(self, method, path, query, headers, body) -> Reply:
        with self.lock:
            self.calls[f"{method} {self._route_name(path)}"] += 1
            planned = self.failures.pop(0) if self.failures else None
            planned = planned or self.fail_paths.get(path)
        if planned == "hang":
            time.sleep(self.hang_seconds)
            return Reply(504, {"error": "too late"})
        if planned is not None:
            return planned
        with self.lock:
            return self.handle(method, path, query, headers, body)

    def _route_name(self, path: str) -> str:
        return path

    def handle(self, method, path, query, headers, body) -> Reply:  # pragma: no cover
        raise NotImplementedError

    def total_calls(self, prefix: str = "") -> int:
        return sum(n for k, n in self.calls.items() if k.startswith(prefix))

    def start(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
