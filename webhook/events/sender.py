"""The sender: one thread that turns queued occurrences into Event requests, never the event loop.

Every ``poll`` (50 ms) it takes what the request path queued: the request path never wakes it, as a
thread switch per review would cost more than the Event itself. It aggregates (``series.py``) and
sends one request at a time (a uid lookup, a create or a patch), each with a timeout. On an error
worth retrying (no answer, 409, 429, 5xx) every request waits a backoff (doubling, with jitter);
meanwhile occurrences keep being taken and aggregated (the series table is bounded: ``overflow``).
Only while a request hangs does nothing take from the queue, which then fills and drops
(``sidecar_injector_events_dropped_total{reason="queue-full"}``). After ``max_attempts`` failures
an Event is dropped (``reason="api-error"``). An Event the API refuses (403 without RBAC, 422) is
dropped at once (``reason="rejected"``): it would be refused again. Warnings about failures are
logged at most once a minute; the metrics count every one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from webhook.events.occurrences import Occurrence
from webhook.events.series import EventTimings, Series, SeriesTable, Work
from webhook.kube.events import EventApiError
from webhook.kube.reflector import Backoff
from webhook.metrics import Metrics

log = logging.getLogger(__name__)

REPORTING_CONTROLLER = "sidecar-injector.io/injector"
NAME_BASE = 58  # kube-apiserver keeps at most 58 characters of a generateName before its suffix
LOG_EVERY = 60.0

Queued = tuple[float, tuple[Occurrence, ...]]
"""What the request path queues: the wall-clock time of the review and what it calls for."""


class EventsApi(Protocol):
    """The requests the sender makes (``webhook.kube.events.EventsClient``)."""

    def create(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]: ...
    def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...
    def uid_of(self, api_version: str, kind: str, namespace: str, name: str) -> str | None: ...
    def close(self) -> None: ...


class EventSender:
    def __init__(
        self,
        client: EventsApi,
        inbox: deque[Queued],
        *,
        instance: str,
        timings: EventTimings,
        metrics: Metrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._inbox = inbox
        self._instance = instance
        self._metrics = metrics
        self._monotonic = monotonic
        self.table = SeriesTable(timings)
        self._backoff = Backoff(timings.backoff_initial, timings.backoff_cap)
        self._retry_at = 0.0
        self._expired_at = 0.0
        self._logged: dict[str, float] = {}
        self.busy = threading.Event()
        """Set while a request is out (tests wait on it to know the sender is stuck in one)."""

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self._step(stopping)
            except Exception:  # a bug must not end Events for good: log it and carry on
                log.exception("events: sending failed")
                stopping.wait(1.0)
        self._flush()

    def _step(self, stopping: threading.Event) -> None:
        now = self._monotonic()
        due = self.table.next_due()
        poll = self.table.timings.poll
        wait = min(poll, max(0.0, max(due, self._retry_at) - now)) if due is not None else poll
        if wait > 0 and stopping.wait(wait):
            return
        self._receive()
        now = self._monotonic()
        if now - self._expired_at >= 1.0:
            self.table.expire(now)
            self._expired_at = now
        if now >= self._retry_at and not stopping.is_set():
            series = self.table.pop_due(now)
            if series is not None:
                self._send(series)

    def _receive(self) -> None:
        """Take everything queued (the only consumer: an emptiness check cannot be raced)."""
        inbox = self._inbox
        while inbox:
            self._observe(inbox.popleft())

    def _observe(self, item: Queued) -> None:
        wall, occurrences = item
        now = self._monotonic()
        for occurrence in occurrences:
            observed = self.table.observe(occurrence, wall, now)
            if observed.aggregated and self._metrics is not None:
                self._metrics.events_aggregated.inc()
            if observed.lost:
                self._count_dropped("overflow")

    def _send(self, series: Series, *, last: bool = False) -> None:
        work = self.table.work(series)
        if work is None:
            return
        self.busy.set()
        try:
            self._request(series, work)
        except EventApiError as exc:
            self._count_request(work, "error")
            self._failed(series, work, exc, last)
        else:
            self._count_request(work, "ok")
            self._backoff.reset()
        finally:
            self.busy.clear()

    def _request(self, series: Series, work: Work) -> None:
        regarding = series.regarding
        namespace, now = regarding.namespace or "default", self._monotonic()
        if work == "lookup":
            uid = self._client.uid_of(regarding.api_version, regarding.kind, namespace, regarding.name)
            self.table.looked_up(series, uid, now)
        elif work == "create":
            count = series.count
            created = self._client.create(namespace, self._event(series, count))
            name = (created.get("metadata") or {}).get("name")
            self.table.sent(series, count, now, name if isinstance(name, str) and name else "-")
        else:
            count = series.count
            try:
                self._client.patch(namespace, series.name, {"series": _series(count, series.last)})
            except EventApiError as exc:
                if exc.status != 404:
                    raise
                self.table.gone(series, now)  # expired at the API: create it again, with its count
            else:
                self.table.sent(series, count, now)

    def _failed(self, series: Series, work: Work, exc: EventApiError, last: bool) -> None:
        regarding = series.regarding
        what = f"{work} of a {series.occurrence.reason} Event on {regarding.kind} {regarding.name}"
        if not exc.retryable or last:
            self.table.drop(series)
            self._count_dropped("rejected" if not exc.retryable else "api-error")
            self._warn(f"rejected-{exc.status}", "events: %s refused (%s); dropped", what, exc)
            return
        self._retry_at = self._monotonic() + self._backoff.next_delay()
        if self.table.failed(series, self._retry_at):
            self._warn("retrying", "events: %s failed (%s); backing off", what, exc)
        else:
            self._count_dropped("api-error")
            self._warn("gave-up", "events: %s failed (%s) too often; dropped", what, exc)

    def _flush(self) -> None:
        """On stop: what is queued and pending, one try each, for at most ``flush_seconds``."""
        self._receive()
        table = self.table
        deadline = self._monotonic() + table.timings.flush_seconds
        for series in table.pending():
            while self._monotonic() < deadline and table.holds(series) and table.work(series):
                if table.work(series) == "lookup":
                    series.lookups = len(table.timings.lookup_delays) - 1  # one last look
                self._send(series, last=True)

    def _event(self, series: Series, count: int) -> dict[str, Any]:
        occurrence, regarding = series.occurrence, series.regarding
        event: dict[str, Any] = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"generateName": f"{regarding.name[:NAME_BASE]}."},
            "eventTime": micro_time(series.first),
            "reportingController": REPORTING_CONTROLLER,
            "reportingInstance": self._instance,
            "action": occurrence.action,
            "reason": occurrence.reason,
            "note": occurrence.note,
            "type": occurrence.type,
            "regarding": regarding.as_json(),
        }
        if count > 1:
            event["series"] = _series(count, series.last)
        return event

    def _count_request(self, work: Work, result: str) -> None:
        if self._metrics is not None:
            self._metrics.events_requests.labels(work, result).inc()

    def _count_dropped(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.events_dropped.labels(reason).inc()

    def _warn(self, kind: str, message: str, *args: object) -> None:
        now = self._monotonic()
        if now - self._logged.get(kind, -LOG_EVERY) >= LOG_EVERY:
            self._logged[kind] = now
            log.warning(message, *args)


def micro_time(wall: float) -> str:
    """A metav1.MicroTime: UTC with exactly six fractional digits, as kube-apiserver parses it."""
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _series(count: int, last: float) -> dict[str, Any]:
    return {"count": count, "lastObservedTime": micro_time(last)}
