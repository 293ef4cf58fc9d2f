"""Plain ASGI middleware: structured access log, body-size limit, bearer-token auth.

Written against raw ASGI (not ``BaseHTTPMiddleware``) so streaming responses and client disconnects
pass straight through. Their errors are :class:`~dreamwright.serve.errors.APIError` responses, like the routers'.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from dreamwright.serve.errors import APIError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("dreamwright.serve.access")
#: an incoming X-Request-ID is kept when it looks like an id (a proxy's or a client's), else a fresh one is made
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The request's ``X-Request-ID`` header when it is a plausible id, else a fresh random one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex[:16]


def route_of(scope: Scope) -> str:
    """The path template of the route that answered (``/v1/models/{model_id}``), so labels stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class AccessLogMiddleware:
    """One JSON line per request on the ``dreamwright.serve.access`` logger; echoes or adds ``x-request-id``.

    Handlers may add fields (model, token counts) to ``scope["state"]["log"]``; prompts are never logged.
    With ``metrics`` (a :class:`~dreamwright.serve.metrics.Metrics`), each request is counted by route and status.
    """

    def __init__(self, app: ASGIApp, metrics: Any = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 0
        sent = 0

        async def send_logged(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            client = scope.get("client")
            record = {
                "event": "request",
                "request_id": request_id,
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status or 499,
                "bytes": sent,
                "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                "client": f"{client[0]}:{client[1]}" if client else None,
            }
            extra = scope.get("state", {}).get("log")
            if isinstance(extra, dict):
                record.update(extra)
            access_log.info(json.dumps(record))
            if self.metrics is not None:
                self.metrics.request(route_of(scope), str(scope.get("method")), status or 499)


class BodyLimitMiddleware:
    """Answer 413 to request bodies over ``max_bytes`` (by Content-Length, or while reading the body).

    ``larger`` raises the limit for paths under some prefixes (image uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        max_bytes = max([self.max_bytes, *(n for p, n in self.larger.items() if path.startswith(p))])
        too_large = APIError(
            413,
            f"the request body is larger than the server's limit of {max_bytes} bytes",
            code="request_too_large",
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0
                if length > max_bytes:
                    await too_large.response()(scope, receive, send)
                    return
        # read the whole (small) body first, then replay it to the app
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > max_bytes:
                await too_large.response()(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class BearerAuthMiddleware:
    """Require ``Authorization: Bearer <key>`` on paths under ``/v1/``, compared in constant time."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope.get("path", "").startswith("/v1/")
            or scope.get("method") == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = token.strip()
        if not hmac.compare_digest(given, self.key):
            message = (
                "missing API key: send the header 'Authorization: Bearer <key>'"
                if not given
                else "incorrect API key"
            )
            error = APIError(401, message, code="invalid_api_key", headers={"www-authenticate": "Bearer"})
            await error.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)
