"""Tiny ASGI apps for config.serve's tests (served by real worker processes)."""


async def ok(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
