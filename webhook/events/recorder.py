"""EventRecorder: what the runtime wires in. The request path only queues; a thread does the rest.

``admission()`` is called by the review handler for every decided review (on the event loop, or on
the large-review thread): it works out the occurrences (``occurrences.py``) and appends them to a
bounded queue, without a lock, a wait or a wake-up; a full queue drops them and counts
``sidecar_injector_events_dropped_total{reason="queue-full"}``. ``template_changed()`` is called
from the template store's transitions (on the kube source's thread), for documents that come from a
ConfigMap of the API (a folder has no object to attach an Event to). The sender thread
(``sender.py``) aggregates and talks to the API.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from webhook.core import Template
from webhook.events.occurrences import (
    DecidedReview,
    Occurrence,
    Regarding,
    TemplateProblem,
    admission_occurrences,
    template_recovered,
    template_rejected,
)
from webhook.events.sender import EventsApi, EventSender, Queued
from webhook.events.series import EventTimings
from webhook.kube.events import EventsClient
from webhook.metrics import Metrics
from webhook.settings import DEFAULTS, Settings

log = logging.getLogger(__name__)

CONFIGMAP_API_VERSION = "v1"


class EventRecorder:
    def __init__(
        self,
        client: EventsApi,
        *,
        instance: str,
        queue_size: int = DEFAULTS.events_queue_size,
        metrics: Metrics | None = None,
        timings: EventTimings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._queue: deque[Queued] = deque()
        self._queue_size = queue_size
        self._metrics = metrics
        self._clock = clock
        self.timings = timings or EventTimings()
        self.sender = EventSender(
            client, self._queue, instance=instance, timings=self.timings, metrics=metrics
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def admission(self, review: DecidedReview) -> None:
        """On the request path: queue what the review calls for, or drop it; never waits."""
        occurrences = admission_occurrences(review)
        if occurrences:
            self._offer(occurrences)

    def template_changed(
        self, configmap: Regarding, error: TemplateProblem | None, serving: Template | None
    ) -> None:
        """A template document of ``configmap`` was rejected (``error``; ``serving`` stays in service)
        or loads again after a rejection (``serving``)."""
        if error is not None:
            self._offer((template_rejected(configmap, error, serving),))
        elif serving is not None:
            self._offer((template_recovered(configmap, serving),))

    @property
    def queued(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("EventRecorder already started")
        self._thread = threading.Thread(
            target=self.sender.run, args=(self._stopping,), name="events", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the sender after one last try at what is queued (``flush_seconds``, plus one request)."""
        self._stopping.set()
        if self._thread is not None:
            timings = self.timings
            # the request in flight, then the flush (which may end with one more request)
            self._thread.join(timings.flush_seconds + 2 * timings.request_timeout + 1.0)
            if self._thread.is_alive():
                log.warning("events: the sender is still busy; its last Events are lost")
                return  # it still uses the client
        self._client.close()

    def _offer(self, occurrences: tuple[Occurrence, ...]) -> None:
        """An append to a deque, atomic under the GIL: no lock, no wake-up. Producers on several
        threads (the event loop, the large-review thread, the template source) may pass the bound by
        one each at most."""
        if len(self._queue) >= self._queue_size:
            if self._metrics is not None:
                self._metrics.events_dropped.labels("queue-full").inc(len(occurrences))
            return
        self._queue.append((self._clock(), occurrences))


def configmap(namespace: str, name: str, uid: str) -> Regarding:
    return Regarding(CONFIGMAP_API_VERSION, "ConfigMap", namespace, name, uid)


def build_recorder(settings: Settings, metrics: Metrics) -> EventRecorder:
    """The recorder of a serving process: the API client as every other one is built."""
    timings = EventTimings()
    client = EventsClient(
        timeout=timings.request_timeout,
        kubeconfig=str(settings.kubeconfig) if settings.kubeconfig else None,
    )
    return EventRecorder(
        client,
        instance=settings.events_instance or socket.gethostname(),
        queue_size=settings.events_queue_size,
        metrics=metrics,
        timings=timings,
    )
