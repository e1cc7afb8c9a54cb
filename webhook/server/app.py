"""create_app(): the admission port. ``POST /mutate`` is served by a lean ASGI path; the probes and
the debug listing by FastAPI.

Every pod creation in the served namespaces waits on ``/mutate``, so it skips the framework's
routing, request object and response classes: measured with bench/run.py, the FastAPI route
spent about as much CPU as the injection itself. The rest of the port keeps FastAPI, where
clarity matters more than microseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException

from webhook.server.handler import ReviewHandler, error_body
from webhook.server.review import DEFAULT_MAX_BODY_BYTES

JSON = "application/json"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Probes:
    """Readiness says whether to send us traffic; liveness only whether the process still answers."""

    readiness: Callable[[], tuple[bool, str]] = lambda: (True, "ready")
    template_status: Callable[[], list[dict[str, Any]]] = field(default=list)


class BodyTooLarge(Exception):
    pass


class AdmissionApp:
    """The ASGI application of the admission port."""

    def __init__(self, handler: ReviewHandler, probes: Probes, max_body_bytes: int) -> None:
        self._handler = handler
        self._max_body = max_body_bytes
        self.fallback = _probe_app(probes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/mutate":
            await self.fallback(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json")]
        if scope["method"] == "POST":
            status, body = await self._mutate(scope, receive)
        else:
            status, body = 405, error_body("Method Not Allowed")
            headers.append((b"allow", b"POST"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _mutate(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != JSON.encode():
            return 415, error_body(f"Content-Type must be {JSON}")
        try:
            body = await read_limited(headers.get(b"content-length"), receive, self._max_body)
        except BodyTooLarge:
            return 413, error_body(f"request body exceeds {self._max_body} bytes")
        answer = self._handler.handle(body)
        return answer.status, answer.body


async def read_limited(declared: bytes | None, receive: Receive, limit: int) -> bytes:
    """Refuse oversized bodies before buffering them: by Content-Length, else while streaming."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the empty body gets a 400
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def create_app(
    handler: ReviewHandler, probes: Probes, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> AdmissionApp:
    return AdmissionApp(handler, probes, max_body_bytes)


def _probe_app(probes: Probes) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz")
    async def readyz() -> Response:
        ready, detail = probes.readiness()
        return _error(200 if ready else 503, detail)

    @app.get("/templates")
    async def templates() -> Response:
        return Response(orjson.dumps({"templates": probes.template_status()}), media_type=JSON)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    return app


def _error(status: int, message: str) -> Response:
    return Response(error_body(message), status_code=status, media_type=JSON)
