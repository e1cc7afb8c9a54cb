"""create_app(): the admission port. ``POST /mutate`` is served by a lean ASGI path; the probes and
the debug listing by FastAPI.

Every pod creation in the served namespaces waits on ``/mutate``, so it skips the framework's
routing, request object and response classes: measured with bench/run.py, the FastAPI route
spent about as much CPU as the injection itself. The rest of the port keeps FastAPI, where
clarity matters more than microseconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException

from webhook.server.handler import Answer, ReviewHandler, error_body
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


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep one process answering under abuse and overload.

    ``max_body_bytes`` caps one review; ``max_buffered_bytes`` caps the bodies of all reviews being
    read at once (100 slow 5 MiB uploads must not cost 300 MiB); ``max_inflight`` caps reviews in
    progress. Past a bound the answer is an immediate 413 or 503, never a queue that outlives
    kube-apiserver's timeout.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_buffered_bytes: int = 4 * DEFAULT_MAX_BODY_BYTES
    max_inflight: int = 256


class Refused(Exception):
    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.answer = (status, message, reason)


class AdmissionApp:
    """The ASGI application of the admission port."""

    def __init__(self, handler: ReviewHandler, probes: Probes, limits: Limits) -> None:
        self._handler = handler
        self._limits = limits
        self._inflight = 0
        self._buffered = 0
        self.fallback = _probe_app(probes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/mutate":
            await self.fallback(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json")]
        if scope["method"] == "POST":
            answer = await self._mutate(scope, receive)
        else:
            answer = self._handler.refuse(405, "Method Not Allowed", "method-not-allowed")
            headers.append((b"allow", b"POST"))
        headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _mutate(self, scope: Scope, receive: Receive) -> Answer:
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != JSON.encode():
            return self._handler.refuse(415, f"Content-Type must be {JSON}", "unsupported-media-type")
        if self._inflight >= self._limits.max_inflight:
            return self._handler.refuse(503, "too many reviews in progress, retry", "overloaded")
        self._inflight += 1
        try:
            body = await self._read_body(headers.get(b"content-length"), receive)
            deadline = _deadline(scope)
            if deadline is not None and time.monotonic() > deadline:
                message = "kube-apiserver's timeout for this review passed before it could be handled"
                return self._handler.refuse(503, message, "expired")
            return self._handler.handle(body)
        except Refused as refused:
            return self._handler.refuse(*refused.answer)
        finally:
            self._inflight -= 1

    async def _read_body(self, declared: bytes | None, receive: Receive) -> bytes:
        """Refuse oversized bodies before buffering them: by Content-Length, else while streaming."""
        limit = self._limits.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break  # the client went away; the empty body gets a 400
                chunk = message.get("body", b"")
                size += len(chunk)
                self._buffered += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                if self._buffered > self._limits.max_buffered_bytes:
                    raise Refused(503, "too much request data in flight, retry", "overloaded")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        finally:
            self._buffered -= size
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> Refused:
    # Built where it is raised, never kept in a local: an exception held by the frame it is raised
    # from is a reference cycle (frame -> exception -> traceback -> frame) that kept the frame, its
    # body chunks and the connection's TLS buffers alive until the cyclic GC ran, which the server's
    # GC settings make rare; 100 refused 5 MiB bodies grew RSS by 80 MiB (bench/reliability.py).
    return Refused(413, f"request body exceeds {limit} bytes", "body-too-large")


_DURATION = re.compile(rb"^(\d+(?:\.\d+)?)(ms|s|m)$")
_UNIT_SECONDS = {b"ms": 0.001, b"s": 1.0, b"m": 60.0}
ARRIVAL = "sidecar_injector.arrival"


def _deadline(scope: Scope) -> float | None:
    """When kube-apiserver stops waiting: its ``?timeout=`` counted from the request's first byte.

    The arrival time comes from the connection guard's protocol (``scope["extensions"]``); without
    it, or without a timeout, there is no deadline to honour.
    """
    arrival = (scope.get("extensions") or {}).get(ARRIVAL)
    if arrival is None:
        return None
    for pair in scope.get("query_string", b"").split(b"&"):
        key, _, value = pair.partition(b"=")
        match = _DURATION.match(value) if key == b"timeout" else None
        if match:
            return float(arrival) + float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return None


def create_app(handler: ReviewHandler, probes: Probes, limits: Limits | None = None) -> AdmissionApp:
    return AdmissionApp(handler, probes, limits or Limits())


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
