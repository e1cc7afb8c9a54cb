"""create_app(): the admission port's routes. Bodies are read with a limit while streaming."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from webhook.server.handler import ReviewHandler, error_body
from webhook.server.review import DEFAULT_MAX_BODY_BYTES

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Probes:
    """Readiness says whether to send us traffic; liveness only whether the process still answers."""

    readiness: Callable[[], tuple[bool, str]] = lambda: (True, "ready")
    template_status: Callable[[], list[dict[str, Any]]] = field(default=list)


class BodyTooLarge(Exception):
    pass


async def read_limited(request: Request, limit: int) -> bytes:
    """Refuse oversized bodies before buffering them: by Content-Length, else while streaming."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    handler: ReviewHandler, probes: Probes, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/mutate")
    async def mutate_route(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            return _error(415, f"Content-Type must be {JSON}")
        try:
            body = await read_limited(request, max_body_bytes)
        except BodyTooLarge:
            return _error(413, f"request body exceeds {max_body_bytes} bytes")
        answer = handler.handle(body)
        return Response(answer.body, status_code=answer.status, media_type=JSON)

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

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return _error(400, "invalid request")

    return app


def _error(status: int, message: str) -> Response:
    return Response(error_body(message), status_code=status, media_type=JSON)
