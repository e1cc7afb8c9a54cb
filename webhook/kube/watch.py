"""One collection's list/watch loop on its own thread: the I/O half of the sans-IO reflector.

It follows the list/watch contract stated in ``webhook.kube.reflector``: lists, watches and backs
off as the reflector's answers say, and hands every change to its sink (the whole map after a list).

The raw JSON is parsed here (``_preload_content=False``), never deserialized into client models that
would drop fields the client does not know.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import urllib3
from kubernetes.client.exceptions import ApiException

from webhook.kube.client import describe_failure
from webhook.kube.paging import read_list
from webhook.kube.reflector import (
    Backoff,
    Change,
    ItemType,
    JsonObject,
    LineBuffer,
    NextAction,
    ObjectKey,
    Reflector,
    Step,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Timings:
    """Every delay a watcher uses; tests shrink them, production keeps the defaults."""

    backoff_initial: float = 0.2
    backoff_cap: float = 10.0
    coalesce_quiet: float = 0.1
    """Template source only: a burst of changes is applied once this passes without a new one..."""
    coalesce_max: float = 1.0
    """...or at the latest this long after its first change."""
    watch_timeout: int = 300
    """Server-side ``timeoutSeconds`` of each watch; the stream then ends cleanly and is resumed."""
    connect_timeout: float = 5.0
    read_slack: float = 30.0
    """Read timeout beyond ``watch_timeout``: a silently dead connection is noticed after this."""
    list_timeout: float = 60.0
    healthy_watch: float = 1.0
    """A watch that lasted this long (or delivered an event) counts as healthy and resets the backoff."""
    sync_interval: float = 5.0
    """How often watch activity re-marks the collection synced (keeps staleness metrics meaningful)."""


class CollectionRequest(Protocol):
    """Issues one list (or, with ``watch=True``, watch) request for the collection, unparsed."""

    def __call__(self, **kwargs: Any) -> urllib3.BaseHTTPResponse: ...


class WatchSink(Protocol):
    """Where a watcher delivers what it learnt; called on the watcher's own thread."""

    def replace(self, objects: Mapping[ObjectKey, JsonObject]) -> None:
        """A fresh list: these are now all the objects (earlier changes are superseded)."""

    def changes(self, changes: tuple[Change, ...]) -> None:
        """Objects added, modified or gone since the last call."""

    def synced(self) -> None:
        """The watch is alive and current (sent at most every ``sync_interval``)."""


class CollectionWatcher:
    """Lists then watches one collection until ``stopping`` is set; see the module docstring.

    ``accept`` filters objects client-side (one that stops passing it is reported as gone);
    ``item_type`` is the collection's kind, stamped on list items (which arrive without one);
    ``transform`` keeps a projection of each object; ``page_size`` lists in pages of that many.
    """

    def __init__(
        self,
        name: str,
        request: CollectionRequest,
        sink: WatchSink,
        stopping: threading.Event,
        timings: Timings = Timings(),
        accept: Callable[[Mapping[str, Any]], bool] | None = None,
        *,
        item_type: ItemType,
        transform: Callable[[JsonObject], JsonObject] | None = None,
        page_size: int | None = None,
    ) -> None:
        self.name = name
        self._request = request
        self._sink = sink
        self._stopping = stopping
        self._timings = timings
        self.reflector = Reflector(accept, item_type, transform)
        self._page_size = page_size
        self.backoff = Backoff(timings.backoff_initial, timings.backoff_cap)
        self.lists = 0
        self.watches = 0
        self.failures = 0
        self._response: urllib3.BaseHTTPResponse | None = None
        self._last_synced = 0.0

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                healthy = self._cycle()
            except Exception:  # a bug must not end the watch silently: log it, back off, go on
                log.exception("watch %s: unexpected error", self.name)
                healthy = False
            if not healthy and not self._stopping.is_set():
                delay = self.backoff.next_delay()
                log.debug("watch %s: retrying in %.2f s", self.name, delay)
                self._stopping.wait(delay)

    def interrupt(self) -> None:
        """Wake a read blocked on the socket: shutdown() ends a blocked recv, close() alone does not."""
        response = self._response
        sock = getattr(getattr(response, "connection", None), "sock", None)
        if sock is None:
            # With "Connection: close" http.client detaches the socket from the connection at once;
            # only the response's file object (BufferedReader → SocketIO) still holds it.
            raw = getattr(getattr(getattr(response, "_fp", None), "fp", None), "raw", None)
            sock = getattr(raw, "_sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _cycle(self) -> bool:
        """One list (when needed) and one watch; True when the watch was healthy."""
        if self.reflector.resource_version is None and not self._list():
            return False
        return self._stopping.is_set() or self._watch()

    def _list(self) -> bool:
        timings = self._timings
        try:
            timeout = (timings.connect_timeout, timings.list_timeout)
            objects = read_list(self._request, self.reflector, page_size=self._page_size, timeout=timeout)
        except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            self.failures += 1
            log.warning("watch %s: list failed: %s", self.name, describe_failure(exc))
            return False
        self.lists += 1
        self._last_synced = time.monotonic()
        for refused in self.reflector.refused:
            log.warning("watch %s: list item refused: %s", self.name, refused)
        log.info(
            "watch %s: listed %d object(s) at resourceVersion %s",
            self.name,
            len(objects),
            self.reflector.resource_version,
        )
        self._sink.replace(dict(objects))
        return True

    def _watch(self) -> bool:
        timings = self._timings
        version = self.reflector.resource_version
        started = time.monotonic()
        try:
            response = self._request(
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=version,
                timeout_seconds=timings.watch_timeout,
                _request_timeout=(timings.connect_timeout, timings.watch_timeout + timings.read_slack),
            )
        except ApiException as exc:
            self.failures += 1
            step = self.reflector.on_watch_rejected(exc.status or 0)
            log.warning("watch %s: %s", self.name, step.reason)
            return False
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self.failures += 1
            log.warning("watch %s: watch failed: %s", self.name, describe_failure(exc))
            return False
        self.watches += 1
        self._response = response
        if self._stopping.is_set():  # stop() may have looked for a response just before this one
            self._response = None
            response.close()
            return True
        self._mark_synced()
        log.debug("watch %s: watching from resourceVersion %s", self.name, version)
        try:
            events, step = self._read(response)
        finally:
            self._response = None
            with contextlib.suppress(Exception):
                response.close()
            response.release_conn()
        healthy = events > 0 or time.monotonic() - started >= timings.healthy_watch
        if step.action is NextAction.RELIST:
            log.info("watch %s: re-listing: %s", self.name, step.reason)
        elif step.backoff:
            log.warning("watch %s: %s", self.name, step.reason)
        if healthy and not step.backoff:
            self.backoff.reset()
        return healthy and not step.backoff

    def _read(self, response: urllib3.BaseHTTPResponse) -> tuple[int, Step]:
        """Feed the stream to the reflector until it ends or asks for another action."""
        lines = LineBuffer()
        events = 0
        try:
            for chunk in response.stream(amt=None, decode_content=False):
                for line in lines.feed(chunk):
                    step = self.reflector.on_line(line)
                    if step.action is not NextAction.NONE:
                        return events, step
                    if step.refused:
                        log.warning("watch %s: %s", self.name, step.reason)
                    events += 1
                    if step.changes:
                        self._sink.changes(step.changes)
                    self._mark_synced()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if not self._stopping.is_set():
                log.info("watch %s: stream broken: %s", self.name, describe_failure(exc))
        return events, self.reflector.on_stream_end()

    def _mark_synced(self) -> None:
        now = time.monotonic()
        if now - self._last_synced >= self._timings.sync_interval:
            self._last_synced = now
            self._sink.synced()
