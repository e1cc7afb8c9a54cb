#!/usr/bin/env python3
"""Hostile clients: cheap connections that try to hold the server's limits, beside normal reviews.

Each pattern is what an attacker inside the cluster can do for almost nothing (the chart's
NetworkPolicy lets every pod reach the webhook port). While one runs, a few keep-alive clients send
normal reviews with kube-apiserver's patience (the chart's ``timeoutSeconds``, 5 s); the figure is the
fraction of those answered correctly in time, and the server's RSS before, at its peak and after.
bench/reliability.py runs them all (scenario ``hostile``); to look at one against a running server:

    python bench/hostile.py --port 8443 --ca ca.crt --pattern stalled-bodies --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# python bench/hostile.py: the repository root, for the bench package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import HOST, MIB, run_async

PATIENCE = 5.0  # seconds kube-apiserver waits for an answer (the chart's timeoutSeconds)
CONNECTION_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError, EOFError)


@dataclass(frozen=True)
class Target:
    port: int
    context: ssl.SSLContext
    max_body: int = 3 * MIB

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=self.context, server_hostname=HOST, limit=4 * MIB
        )


def review(obj: dict[str, Any], uid: str | None = None) -> tuple[bytes, str]:
    uid = uid or str(uuid.uuid4())
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": obj["kind"]},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": obj,
            "dryRun": False,
        },
    }
    return json.dumps(body, separators=(",", ":")).encode(), uid


def pod(containers: int = 1, annotated: bool = True) -> dict[str, Any]:
    annotations = {"initializer.kubernetes.io/logging-agent": "true"} if annotated else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app", "namespace": "default", "annotations": annotations},
        "spec": {"containers": [{"name": f"c{i}", "image": "app:1"} for i in range(containers)]},
    }


def request_bytes(body: bytes, *, length: int | None = None, extra_headers: bytes = b"") -> bytes:
    head = (
        f"POST /mutate HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n"
    ).encode()
    return head + extra_headers + b"\r\n" + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        (
            int(v)
            for k, _, v in (ln.partition(":") for ln in lines[1:])
            if k.strip().lower() == "content-length"
        ),
        0,
    )
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def close(writer: asyncio.StreamWriter | None) -> None:
    if writer is None:
        return
    writer.transport.abort()
    with suppress(*CONNECTION_ERRORS, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1)


# --------------------------------------------------------------------------------------------------
# Normal reviews, with kube-apiserver's patience


@dataclass
class Served:
    ok: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # "HTTP 503", "timeout", "connection error"
    latencies: list[float] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return self.ok + sum(self.refused.values())

    @property
    def fraction(self) -> float:
        return self.ok / self.attempts if self.attempts else 0.0

    def miss(self, why: str) -> None:
        self.refused[why] = self.refused.get(why, 0) + 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None
        return {
            "served": self.ok,
            "attempts": self.attempts,
            "fraction": round(self.fraction, 4),
            "missed": dict(self.refused),
            "p99_ms": None if p99 is None else round(p99 * 1000, 1),
        }


async def normal_client(target: Target, stop: asyncio.Event, served: Served) -> None:
    """Sequential normal reviews on a keep-alive connection; a new one after any failure."""
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while not stop.is_set():
        body, uid = review(pod())
        began = time.monotonic()
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.wait_for(target.connect(), PATIENCE)
            writer.write(request_bytes(body))
            status, answer = await asyncio.wait_for(
                read_answer(reader), PATIENCE - (time.monotonic() - began)
            )
        except TimeoutError:
            served.miss("timeout")
            await close(writer)
            writer = None
            continue
        except CONNECTION_ERRORS as exc:
            served.miss(f"connection error ({type(exc).__name__})")
            await close(writer)
            writer = None
            await asyncio.sleep(0.01)
            continue
        if status == 200 and uid.encode() in answer and b'"allowed":true' in answer:
            served.ok += 1
            served.latencies.append(time.monotonic() - began)
        else:
            served.miss(f"HTTP {status}")
            await close(writer)
            writer = None
    await close(writer)


# --------------------------------------------------------------------------------------------------
# Hostile patterns: each runs until ``stop`` and returns what it did


@dataclass
class Tally:
    connections: int = 0
    closed_by_server: int = 0
    answers: dict[str, int] = field(default_factory=dict)

    def answer(self, what: str) -> None:
        self.answers[what] = self.answers.get(what, 0) + 1


async def _hold_until_closed(reader: asyncio.StreamReader, stop: asyncio.Event, tally: Tally) -> None:
    """Wait for the server to close the connection (or for the run to end), reading what it sends."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            reading = asyncio.ensure_future(reader.read(65536))
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                return
            try:
                data = reading.result()
            except CONNECTION_ERRORS:
                data = b""
            if not data:
                tally.closed_by_server += 1
                return
            if data.startswith(b"HTTP/1.1 "):
                tally.answer(data.split(b"\r\n", 1)[0].decode(errors="replace"))
    finally:
        stopping.cancel()


async def _loop_connections(
    target: Target,
    stop: asyncio.Event,
    count: int,
    tally: Tally,
    session: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> None:
    """``count`` connections, each reopened as soon as the server closes it."""

    async def one() -> None:
        while not stop.is_set():
            writer = None
            try:
                reader, writer = await target.connect()
                tally.connections += 1
                await session(reader, writer)
                await _hold_until_closed(reader, stop, tally)
            except CONNECTION_ERRORS:
                tally.closed_by_server += 1
                await asyncio.sleep(0.05)
            finally:
                await close(writer)

    await asyncio.gather(*(one() for _ in range(count)))


async def stalled_bodies(target: Target, stop: asyncio.Event, count: int = 4) -> Tally:
    """Upload all but 10 bytes of a maximal body, then stall."""
    tally = Tally()
    filler = b" " * (target.max_body - 10)

    async def session(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(request_bytes(filler, length=target.max_body))
        await writer.drain()

    await _loop_connections(target, stop, count, tally, session)
    return tally


async def partial_bodies(target: Target, stop: asyncio.Event, count: int = 256) -> Tally:
    """Declare 1,000 bytes, send 10, stall."""
    tally = Tally()

    async def session(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(request_bytes(b'{"kind":"A', length=1000))
        await writer.drain()

    await _loop_connections(target, stop, count, tally, session)
    return tally


async def pipelined_tail(target: Target, stop: asyncio.Event, count: int = 260) -> Tally:
    """One complete review plus the headers and first bytes of a second, in one write."""
    tally = Tally()

    async def session(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body, _uid = review(pod())
        second = request_bytes(body)
        writer.write(request_bytes(body) + second[: second.index(b"\r\n\r\n") + 14])
        await writer.drain()

    await _loop_connections(target, stop, count, tally, session)
    return tally


async def huge_headers(target: Target, stop: asyncio.Event, count: int = 8, size: int = 40 * MIB) -> Tally:
    """A header that never ends: 40 MiB of one header value, streamed."""
    tally = Tally()
    block = b"a" * 65536

    async def session(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nX-Filler: ")
        for _ in range(size // len(block)):
            if stop.is_set() or writer.transport.is_closing():
                return
            writer.write(block)
            await writer.drain()

    await _loop_connections(target, stop, count, tally, session)
    return tally


async def many_headers(target: Target, stop: asyncio.Event, count: int = 4, headers: int = 10_000) -> Tally:
    """10,000 short headers before a normal review."""
    tally = Tally()
    extra = b"".join(b"X-H%d: v\r\n" % i for i in range(headers))

    async def session(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body, _uid = review(pod())
        writer.write(request_bytes(body, extra_headers=extra))
        await writer.drain()

    await _loop_connections(target, stop, count, tally, session)
    return tally


async def never_reading(target: Target, stop: asyncio.Event, count: int = 20) -> Tally:
    """Pipeline reviews as fast as the socket takes them and never read an answer."""
    tally = Tally()
    body, _uid = review(pod())
    burst = request_bytes(body) * 64

    async def one() -> None:
        while not stop.is_set():
            writer = None
            try:
                _reader, writer = await target.connect()
                tally.connections += 1
                while not stop.is_set() and not writer.transport.is_closing():
                    writer.write(burst)
                    with suppress(asyncio.TimeoutError):  # the server stopped reading: keep pushing
                        await asyncio.wait_for(writer.drain(), 1.0)
                if not stop.is_set():
                    tally.closed_by_server += 1
            except CONNECTION_ERRORS:
                tally.closed_by_server += 1
                await asyncio.sleep(0.05)
            finally:
                await close(writer)

    await asyncio.gather(*(one() for _ in range(count)))
    return tally


async def huge_objects(target: Target, stop: asyncio.Event, containers: int = 88_000) -> Tally:
    """One client posting a Pod with tens of thousands of containers, over and over."""
    tally = Tally()
    body, _uid = review(pod(containers))
    request = request_bytes(body)
    writer = None
    while not stop.is_set():
        try:
            if writer is None:
                reader, writer = await target.connect()
                tally.connections += 1
            writer.write(request)
            status, _answer = await read_answer(reader)
            tally.answer(f"HTTP {status}")
        except CONNECTION_ERRORS:
            tally.closed_by_server += 1
            await close(writer)
            writer = None
            await asyncio.sleep(0.05)
    await close(writer)
    return tally


Pattern = Callable[[Target, asyncio.Event], Awaitable[Tally]]
PATTERNS: dict[str, Pattern] = {
    "stalled-bodies": stalled_bodies,
    "partial-bodies": partial_bodies,
    "pipelined-tail": pipelined_tail,
    "huge-headers": huge_headers,
    "many-headers": many_headers,
    "never-reading": never_reading,
    "huge-objects": huge_objects,
}


async def beside(
    target: Target, pattern: Pattern | None, seconds: float, clients: int = 4, lead: float = 1.0
) -> tuple[Served, Tally | None]:
    """Run ``pattern`` for ``lead`` + ``seconds``; normal reviews are counted for the last ``seconds``."""
    stop_pattern, stop_normal = asyncio.Event(), asyncio.Event()
    attack = asyncio.ensure_future(pattern(target, stop_pattern)) if pattern else None
    await asyncio.sleep(lead)
    served = Served()
    normal = [asyncio.ensure_future(normal_client(target, stop_normal, served)) for _ in range(clients)]
    await asyncio.sleep(seconds)
    stop_normal.set()
    stop_pattern.set()
    await asyncio.gather(*normal)
    tally = await attack if attack else None
    return served, tally


# --------------------------------------------------------------------------------------------------
# Bursts of concurrent connections


async def burst(target: Target, concurrency: int) -> dict[str, int]:
    """``concurrency`` connections at once, one review each; how many got a correct answer."""
    outcomes: dict[str, int] = {}

    async def one() -> None:
        body, uid = review(pod())
        writer = None
        try:
            reader, writer = await asyncio.wait_for(target.connect(), 30)
            writer.write(request_bytes(body))
            status, answer = await asyncio.wait_for(read_answer(reader), 30)
            what = "ok" if status == 200 and uid.encode() in answer else f"HTTP {status}"
        except (TimeoutError, *CONNECTION_ERRORS) as exc:
            what = type(exc).__name__
        finally:
            await close(writer)
        outcomes[what] = outcomes.get(what, 0) + 1

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True, help="the CA that signed the server's certificate")
    parser.add_argument("--pattern", choices=[*PATTERNS, "none", "burst"], required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=3000, help="for --pattern burst")
    args = parser.parse_args()
    target = Target(args.port, ssl.create_default_context(cafile=args.ca))
    if args.pattern == "burst":
        print(run_async(burst(target, args.concurrency)))
        return
    pattern = PATTERNS.get(args.pattern)
    served, tally = run_async(beside(target, pattern, args.seconds))
    print(json.dumps({"normal": served.summary(), "pattern": tally and tally.__dict__}, indent=1))


if __name__ == "__main__":
    main()
