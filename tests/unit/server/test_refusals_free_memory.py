"""A refused request must be freed by reference counting alone, the moment it is answered.

The server runs with the cyclic garbage collector all but idle (gc.freeze and a 50,000 threshold;
see runtime._settle_garbage_collector), so anything a refusal leaves in a reference cycle (the
request's frame, its body chunks, the connection's TLS buffers behind ``receive``) stays until a
rare collection: 100 refused 5 MiB bodies once grew RSS by 80 MiB per round (bench/reliability.py).
These tests run with the collector disabled and check that nothing of the request survives.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from webhook.core import InjectionPolicy, TemplateSet
from webhook.metrics import Metrics
from webhook.server.app import Limits, Probes, create_app
from webhook.server.handler import ReviewHandler

LIMIT = 64 * 1024


class Receiver:
    """The ASGI receive callable of one request, sending its body in chunks."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __call__(self) -> dict[str, Any]:
        chunk = self.chunks.pop(0) if self.chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def run_refused(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, weakref.ref[Receiver]]:
    app = create_app(
        ReviewHandler(TemplateSet, InjectionPolicy(), Metrics(CollectorRegistry())),
        Probes(),
        Limits(max_body_bytes=LIMIT, max_buffered_bytes=4 * LIMIT),
    )
    receive = Receiver(chunks)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/mutate", "headers": headers, "query_string": b""}
    asyncio.run(app(scope, receive, send))
    ref = weakref.ref(receive)
    del receive
    return sent[0]["status"], ref


@pytest.mark.usefixtures("no_cyclic_gc")
def test_a_body_refused_by_its_content_length_is_freed_at_once() -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(LIMIT * 50).encode())]
    status, receive = run_refused(headers, [b"x" * 1024])
    assert status == 413
    assert receive() is None, "the refused request is still referenced (a cycle keeps it alive)"


@pytest.mark.usefixtures("no_cyclic_gc")
def test_a_body_refused_while_streaming_is_freed_at_once() -> None:
    status, receive = run_refused([(b"content-type", b"application/json")], [b"x" * 16384] * 8)
    assert status == 413
    assert receive() is None, "the refused request is still referenced (a cycle keeps it alive)"
