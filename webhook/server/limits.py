"""The admission port's shared limits: reviews in progress and request bytes being read, across all
connections; a request that stopped making progress gives its share up to one that needs it.

A request holds one in-flight slot from its headers to its answer, and its body's bytes while they
are buffered. kube-apiserver sends a review in one go, so a request whose body has not moved for
STALL_SECONDS, or is still arriving PROGRESS_GRACE_SECONDS after its first byte, is a stalled or
trickling client. When a newcomer needs a slot or bytes and there are none left, the budget cuts such
requests (oldest first, through their connection, at once) instead of refusing the newcomer: four
connections that upload 3 MiB each and stall, or 256 that send 10 of 1,000 declared bytes, no longer
hold the limits for their whole request timeout. A request past its upload (being decided and
answered) is never cut: that work is ours and bounded.

A quarter of the buffered bytes is kept for requests that declare at most SMALL_REQUEST_BYTES, the
size of almost every review: large uploads, stalled or not, can never take all of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from webhook.settings import DEFAULTS

PROGRESS_GRACE_SECONDS = 1.0
STALL_SECONDS = 0.25
SMALL_REQUEST_BYTES = 64 * 1024


class Connection(Protocol):
    """The part of a request's connection the budget uses."""

    last_progress: float
    """When bytes last arrived on the connection (monotonic)."""

    def waiting_on_client(self) -> bool:
        """False while bytes the client sent wait unread: then the server, not the client, is late."""

    def cut(self) -> None:
        """Close the connection now, without waiting for the client (no TLS goodbye)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep one process answering under abuse and overload.

    ``max_body_bytes`` caps one review; ``max_buffered_bytes`` caps the bodies of all reviews being
    read at once (100 slow 5 MiB uploads must not cost 300 MiB); ``max_inflight`` caps reviews in
    progress. Past a bound, once nothing stalled can be cut, the answer is an immediate 413 or 503,
    never a queue that outlives kube-apiserver's timeout.
    """

    max_body_bytes: int = DEFAULTS.max_body_bytes
    max_buffered_bytes: int = DEFAULTS.max_buffered_bytes
    max_inflight: int = DEFAULTS.max_inflight


class Claim:
    """One request's share of the limits: a slot, and the bytes of its body read so far."""

    __slots__ = ("_budget", "arrival", "buffered", "ceiling", "connection", "released", "uploaded")

    def __init__(self, budget: Budget, arrival: float, connection: Connection | None, ceiling: int) -> None:
        self._budget = budget
        self.arrival = arrival
        self.connection = connection
        self.ceiling = ceiling  # the most of the shared bytes this request may bring the total to
        self.buffered = 0
        self.uploaded = False
        self.released = False

    def take(self, size: int) -> bool:
        """Count ``size`` more bytes of the body; False if they cannot fit (nor be made to)."""
        return self._budget._take(self, size)

    def finish_upload(self) -> None:
        """The body is complete: from now on the request is ours to answer and is never cut."""
        self.uploaded = True

    def release(self) -> None:
        """Give the slot and the bytes back; later calls do nothing."""
        self._budget._release(self)


class Budget:
    def __init__(
        self,
        limits: Limits,
        *,
        grace: float = PROGRESS_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        observe: Callable[[int, int], None] = lambda inflight, buffered: None,
    ) -> None:
        self.limits = limits
        self._grace = grace
        self._clock = clock
        self._observe = observe  # (reviews in progress, bytes buffered) after every change
        self._claims: dict[Claim, None] = {}  # insertion-ordered: oldest first
        self.buffered = 0
        self.cut = 0  # requests cut to make room, for the logs and the benchmark

    @property
    def inflight(self) -> int:
        return len(self._claims)

    def claim(
        self, arrival: float, connection: Connection | None, declared: int | None = None
    ) -> Claim | None:
        """A slot for a request that started to arrive at ``arrival`` and declares ``declared`` bytes
        (its Content-Length, if any); None if none can be had."""
        if len(self._claims) >= self.limits.max_inflight and not self._make_room(slots=1, size=0):
            return None
        ceiling = self.limits.max_buffered_bytes
        if declared is None or declared > SMALL_REQUEST_BYTES:
            ceiling -= ceiling // 4
        claim = Claim(self, arrival, connection, ceiling)
        self._claims[claim] = None
        self._observe(len(self._claims), self.buffered)
        return claim

    def _take(self, claim: Claim, size: int) -> bool:
        if claim.released:
            return False
        if self.buffered + size > claim.ceiling and not self._make_room(
            slots=0, size=size, keep=claim, ceiling=claim.ceiling
        ):
            return False
        claim.buffered += size
        self.buffered += size
        self._observe(len(self._claims), self.buffered)
        return True

    def _release(self, claim: Claim) -> None:
        if claim.released:
            return
        claim.released = True
        self.buffered -= claim.buffered
        claim.buffered = 0
        self._claims.pop(claim, None)
        self._observe(len(self._claims), self.buffered)

    def _make_room(
        self, slots: int, size: int, keep: Claim | None = None, ceiling: int | None = None
    ) -> bool:
        """Cut stalled uploads, oldest first, until ``slots`` and ``size`` bytes fit."""
        limit = self.limits.max_buffered_bytes if ceiling is None else ceiling

        def fits() -> bool:
            return len(self._claims) + slots <= self.limits.max_inflight and self.buffered + size <= limit

        for victim in self._stalled(keep):
            if fits():
                break
            self._release(victim)
            self.cut += 1
            assert victim.connection is not None
            victim.connection.cut()
        return fits()

    def _stalled(self, keep: Claim | None) -> list[Claim]:
        now = self._clock()
        old, still = now - self._grace, now - STALL_SECONDS
        stalled = [
            claim
            for claim in self._claims
            if not claim.uploaded
            and claim is not keep
            and claim.connection is not None
            and (claim.arrival <= old or claim.connection.last_progress <= still)
            and claim.connection.waiting_on_client()
        ]
        return sorted(stalled, key=lambda claim: claim.arrival)
