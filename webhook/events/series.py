"""Identical occurrences become one Event with a count: the events.k8s.io/v1 ``series``.

Learnt from client-go's events broadcaster (``k8s.io/client-go/tools/events``): an occurrence equal
to one seen within the window is not a new Event. The first is created; repeats raise
``series.count`` and ``series.lastObservedTime``, which are PATCHed (the only mutable fields of an
events.k8s.io Event). client-go patches on the second occurrence and then only every 30 minutes; here
a growing count is PATCHed at most every ``update_interval``, so ``kubectl describe`` shows a count
that is seconds old, and a rollout of a thousand Pods costs one create and a few patches. A series
ends ``window`` after its last occurrence (client-go's six minutes); the next identical occurrence
starts a new Event. A PATCH answered 404 (Events expire, an hour by default) creates the Event again
with its series, as client-go does.

The table is bounded (``max_series``): a new series past it forgets the one seen longest ago (the
caller counts it as dropped when its Event was never created). Work (a uid lookup, a create, a
patch) is found through a heap of due times, so a busy table costs O(log n) per request, not a scan.

Pure state: every method takes the clock's readings as arguments; ``sender.py`` does the requests.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from webhook.events.occurrences import Occurrence, Regarding

Work = Literal["lookup", "create", "patch"]


@dataclass(frozen=True, slots=True)
class EventTimings:
    """Every delay and bound of the Events path; tests shrink them, production keeps these."""

    window: float = 360.0
    """A series ends this long after its last occurrence (client-go's finishTime)."""
    update_interval: float = 10.0
    """A growing count is PATCHed at most this often."""
    lookup_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    """When to look for the uid of an object being created, after its review; then give up and
    create the Event without it (``kubectl events --for`` still finds it, ``describe`` cannot)."""
    backoff_initial: float = 0.5
    backoff_cap: float = 60.0
    max_attempts: int = 12
    """Failed requests for one Event before it is dropped (client-go's maxTriesPerEvent)."""
    request_timeout: float = 5.0
    flush_seconds: float = 2.0
    """On stop: how long to keep sending what is queued (one try each)."""
    max_series: int = 4096
    poll: float = 0.05
    """How often the sender takes what is queued; the request path never wakes it."""


@dataclass(slots=True)
class Series:
    occurrence: Occurrence
    first: float
    """Wall clock of the first occurrence: the Event's ``eventTime``."""
    last: float
    """Wall clock of the latest: ``series.lastObservedTime``."""
    seen: float
    """Monotonic clock of the latest, for the window."""
    due: float
    """Monotonic clock: when its next request may go."""
    count: int = 1
    sent: int = 0
    """The count the API server has."""
    uid: str = ""
    name: str = ""
    """The Event's name, once created."""
    lookups: int = 0
    attempts: int = 0
    """Failed requests in a row."""
    scheduled: float | None = None

    @property
    def regarding(self) -> Regarding:
        regarding = self.occurrence.regarding
        if self.uid and not regarding.uid:
            return dataclasses.replace(regarding, uid=self.uid)
        return regarding


@dataclass(frozen=True, slots=True)
class Observed:
    aggregated: bool
    """Counted into an existing series, no new Event."""
    lost: bool = False
    """The table was full and the series it forgot had no Event yet."""


class SeriesTable:
    def __init__(self, timings: EventTimings) -> None:
        self.timings = timings
        self._series: OrderedDict[Occurrence, Series] = OrderedDict()
        self._heap: list[tuple[float, int, Occurrence]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._series)

    def observe(self, occurrence: Occurrence, wall: float, now: float) -> Observed:
        series = self._series.get(occurrence)
        if series is not None and (self.work(series) or now - series.seen <= self.timings.window):
            series.count, series.last, series.seen = series.count + 1, max(series.last, wall), now
            self._series.move_to_end(occurrence)
            self._schedule(series)
            return Observed(aggregated=True)
        lost = False
        if series is None and len(self._series) >= self.timings.max_series:
            _, forgotten = self._series.popitem(last=False)
            lost = not forgotten.name
        delay = self.timings.lookup_delays[0] if occurrence.find_uid and self.timings.lookup_delays else 0.0
        self._series[occurrence] = series = Series(occurrence, wall, wall, now, now + delay)
        self._series.move_to_end(occurrence)
        self._schedule(series)
        return Observed(aggregated=False, lost=lost)

    def work(self, series: Series) -> Work | None:
        if not series.name:
            wants_uid = series.occurrence.find_uid and not series.uid
            return "lookup" if wants_uid and series.lookups < len(self.timings.lookup_delays) else "create"
        return "patch" if series.count > series.sent else None

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> Series | None:
        """The next series whose work is due, if any (it is scheduled again by what follows)."""
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            series = self._series.get(key)
            if series is None or series.scheduled != due:
                continue  # forgotten, or rescheduled since
            series.scheduled = None
            if self.work(series) is not None:
                return series
        return None

    def looked_up(self, series: Series, uid: str | None, now: float) -> None:
        """A uid lookup answered: create the Event now, or look again after the next delay (then
        create it without the uid)."""
        series.attempts = 0
        delays = self.timings.lookup_delays
        if uid:
            series.uid, series.due = uid, now
        else:
            series.lookups += 1
            series.due = now + delays[series.lookups] if series.lookups < len(delays) else now
        self._schedule(series)

    def sent(self, series: Series, count: int, now: float, name: str = "") -> None:
        """A create (``name``) or patch succeeded with ``count``; more of the same waits an interval."""
        series.name, series.sent, series.attempts = name or series.name, count, 0
        series.due = now + self.timings.update_interval
        self._schedule(series)

    def failed(self, series: Series, retry_at: float) -> bool:
        """A request failed; False when the series has had its tries and is dropped."""
        series.attempts += 1
        if series.attempts >= self.timings.max_attempts:
            self.drop(series)
            return False
        series.due = retry_at
        self._schedule(series)
        return True

    def gone(self, series: Series, now: float) -> None:
        """Its Event no longer exists (a PATCH answered 404): create it again, with its series."""
        series.name, series.sent, series.due = "", 0, now
        self._schedule(series)

    def holds(self, series: Series) -> bool:
        return self._series.get(series.occurrence) is series

    def drop(self, series: Series) -> None:
        if self.holds(series):
            del self._series[series.occurrence]

    def expire(self, now: float) -> None:
        """Forget series whose window has passed and that have nothing left to send."""
        finished = []
        for key, series in self._series.items():
            if now - series.seen <= self.timings.window:
                break  # ordered by last occurrence
            if self.work(series) is None:
                finished.append(key)
        for key in finished:
            del self._series[key]

    def pending(self) -> list[Series]:
        """Every series with something to send, oldest first (for the last flush)."""
        return [series for series in self._series.values() if self.work(series) is not None]

    def _schedule(self, series: Series) -> None:
        if series.scheduled == series.due or self.work(series) is None:
            return
        series.scheduled = series.due
        heapq.heappush(self._heap, (series.due, next(self._order), series.occurrence))
