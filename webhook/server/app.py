"""create_app(): the admission port. ``POST /mutate`` is served by a lean ASGI path; the probes and
the debug listing by ``server/probes.py``.

Every pod creation in the served namespaces waits on ``/mutate``, so it skips any framework's
routing, request object and response classes: measured with bench/run.py, a FastAPI route spent
about as much CPU as the injection itself.

Large reviews are decoded and decided on one worker thread, one at a time, so a 3 MiB pod never
holds the event loop while small reviews wait: the thread and the loop share the interpreter in 5 ms
slices, and the loop keeps reading, answering and timing connections. Large means a body of 16 KiB
or more (a typical review is 2 to 10 KiB), or a pod template of more than 32 containers: the engine's
work grows with the containers, and 16 KiB of minimal ones (570) took 95 ms with a template adding
env and mounts to each.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from webhook.metrics import Metrics, multiprocess
from webhook.server.asgi import Receive, Scope, Send, send_json
from webhook.server.handler import Answer, Prepared
from webhook.server.limits import Budget, Claim, Limits
from webhook.server.probes import ProbeApp, Probes
from webhook.server.refusal import Refusal

__all__ = ["ARRIVAL", "CONNECTION", "AdmissionApp", "AdmissionHandler", "Limits", "Probes", "create_app"]

JSON = "application/json"
LARGE_REVIEW_BYTES = 16 * 1024
HEAVY_REVIEW_CONTAINERS = 32
T = TypeVar("T")

# Set by the connection guard in scope["extensions"]: when the request's first byte arrived, and a
# handle on its connection (``cut()``) for the budget to free a stalled request's share at once.
ARRIVAL = "sidecar_injector.arrival"
CONNECTION = "sidecar_injector.connection"
EXPIRED = "kube-apiserver's timeout for this review passed before it could be handled"


class AdmissionHandler(Protocol):
    """What the app asks of a review's handler (``ReviewHandler``). A protocol, not the class: the
    app is compiled (build_info), and a compiled parameter typed by a class accepts that class alone,
    where tests hand in wrappers that break on purpose."""

    def handle(self, body: bytes) -> Answer: ...
    def prepare(self, body: bytes) -> Prepared | Answer: ...
    def finish(self, prepared: Prepared) -> Answer: ...
    def refuse(self, refusal: Refusal) -> Answer: ...
    def failed_unread(
        self, body: bytes, failure: BaseException | None = None, failed: str = ""
    ) -> Answer: ...


class ClientGone(Exception):
    """The connection closed (or was cut) before the request's body was complete."""


class AdmissionApp:
    """The ASGI application of the admission port."""

    def __init__(
        self, handler: AdmissionHandler, probes: Probes, limits: Limits, metrics: Metrics | None = None
    ) -> None:
        self._handler = handler
        self._limits = limits
        # A single process's gauges read the budget when scraped: setting both at every claim, take
        # and release cost a few µs per review. Workers' gauges live in shared files, which a
        # function cannot feed, so there the budget sets them at every change.
        observe: Callable[[int, int], None] = _unobserved
        if metrics is not None and multiprocess():
            observe = _observer(metrics)
        elif metrics is not None:
            metrics.reviews_in_progress.set_function(lambda: self.budget.inflight)
            metrics.request_bytes_buffered.set_function(lambda: self.budget.buffered)
        self.budget = Budget(limits, observe=observe)
        self.probes = ProbeApp(probes)  # every path but /mutate: probes and the template listing
        self._large_reviews = ThreadPoolExecutor(max_workers=1, thread_name_prefix="large-reviews")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/mutate":
            await self.probes(scope, receive, send)
            return
        if scope["method"] != "POST":
            answer = self._handler.refuse(Refusal(405, "method-not-allowed", "Method Not Allowed"))
            await send_json(send, answer.status, answer.body, allow=b"POST")
            return
        try:
            mutated = await self._mutate(scope, receive)
        except Exception as exc:  # a bug of ours: still an answer the policy chose, never a bare 500
            mutated = self._handler.failed_unread(b"", exc, "on the admission port")
        if mutated is not None:  # None: the client is gone, nobody to answer
            await send_json(send, mutated.status, mutated.body)

    async def _mutate(self, scope: Scope, receive: Receive) -> Answer | None:
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != JSON.encode():
            return self._handler.refuse(
                Refusal(415, "unsupported-media-type", f"Content-Type must be {JSON}")
            )
        extensions = scope.get("extensions") or {}
        declared = headers.get(b"content-length")
        claim = self.budget.claim(
            extensions.get(ARRIVAL, time.monotonic()),
            extensions.get(CONNECTION),
            int(declared) if declared is not None and declared.isdigit() else None,
        )
        if claim is None:
            return self._handler.refuse(Refusal(503, "overloaded", "too many reviews in progress, retry"))
        try:
            body = await self._read_body(claim, declared, receive)
            claim.finish_upload()
            deadline = _deadline(scope)
            if deadline is not None and time.monotonic() > deadline:
                return self._handler.refuse(_expired())
            return await self._decide(body, deadline)
        except Refusal as refusal:
            return self._handler.refuse(refusal)
        except ClientGone:
            return None
        finally:
            claim.release()

    async def _decide(self, body: bytes, deadline: float | None) -> Answer:
        try:
            if len(body) >= LARGE_REVIEW_BYTES:
                return await self._off_the_loop(self._handle_if_timely, body, deadline)
            prepared = self._handler.prepare(body)
            if isinstance(prepared, Answer):
                return prepared
            if prepared.containers > HEAVY_REVIEW_CONTAINERS:
                return await self._off_the_loop(self._finish_if_timely, prepared, deadline)
            return self._handler.finish(prepared)
        except Exception as exc:  # a bug of ours: the policy's answer still, when the uid can be read
            return self._handler.failed_unread(body, exc, "deciding a review")

    async def _off_the_loop(
        self, work: Callable[[T, float | None], Answer], item: T, deadline: float | None
    ) -> Answer:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._large_reviews, work, item, deadline)

    def _handle_if_timely(self, body: bytes, deadline: float | None) -> Answer:
        """On the large-review thread: a review that waited there past its deadline is not decided."""
        if deadline is not None and time.monotonic() > deadline:
            return self._handler.refuse(_expired())
        return self._handler.handle(body)

    def _finish_if_timely(self, prepared: Prepared, deadline: float | None) -> Answer:
        if deadline is not None and time.monotonic() > deadline:
            return self._handler.refuse(_expired())
        return self._handler.finish(prepared)

    async def _read_body(self, claim: Claim, declared: bytes | None, receive: Receive) -> bytes:
        """Refuse oversized bodies before buffering them: by Content-Length, else while streaming."""
        limit = self._limits.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            if not claim.take(len(chunk)):
                raise Refusal(503, "overloaded", "too much request data in flight, retry")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> Refusal:
    # Built where it is raised, never kept in a local: an exception held by the frame it is raised
    # from is a reference cycle (frame -> exception -> traceback -> frame) that kept the frame, its
    # body chunks and the connection's TLS buffers alive until the cyclic GC ran, which the server's
    # GC settings make rare; 100 refused 5 MiB bodies grew RSS by 80 MiB (bench/reliability.py).
    return Refusal(413, "body-too-large", f"request body exceeds {limit} bytes")


def _expired() -> Refusal:
    return Refusal(503, "expired", EXPIRED)


_DURATION = re.compile(rb"^(\d+(?:\.\d+)?)(ms|s|m)$")
_UNIT_SECONDS = {b"ms": 0.001, b"s": 1.0, b"m": 60.0}


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


def _unobserved(inflight: int, buffered: int) -> None:
    pass


def _observer(metrics: Metrics) -> Callable[[int, int], None]:
    def observe(inflight: int, buffered: int) -> None:
        metrics.reviews_in_progress.set(inflight)
        metrics.request_bytes_buffered.set(buffered)

    return observe


def create_app(
    handler: AdmissionHandler, probes: Probes, limits: Limits | None = None, metrics: Metrics | None = None
) -> AdmissionApp:
    return AdmissionApp(handler, probes, limits or Limits(), metrics)
