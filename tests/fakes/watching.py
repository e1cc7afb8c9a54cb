"""Watch streams: chunked ``{"type": ..., "object": ...}`` lines, as the apiserver's cacher sends them.

Where a watch starts:

- ``resourceVersion`` unset or ``"0"`` (without ``sendInitialEvents``): synthetic ADDED events for the
  current state (for ``"0"``, the watch cache's, possibly stale), then every change after it;
- ``resourceVersion=N``: every change after N; N older than the history kept is one ERROR event
  whose object is a 410 ``Expired`` Status ("too old resource version"), then the end of the stream
  (``gone_as_http_status``: an HTTP 410 instead, as older servers answer);
- ``sendInitialEvents=true`` (with ``resourceVersionMatch=NotOlderThan``): ADDED events for the state
  at least as new as the requested version, then, with ``allowWatchBookmarks``, one BOOKMARK annotated
  ``k8s.io/initial-events-end: "true"``; ``sendInitialEvents=false``: only changes after that state.

Per watcher, changes follow the cacher's selector rules: an object that stops matching arrives as
DELETED (previous content, new resourceVersion), one that starts matching as ADDED. With
``allowWatchBookmarks``, a BOOKMARK carrying only the kind and the current resourceVersion comes every
``bookmark_interval`` seconds. ``timeoutSeconds`` ends the stream cleanly. A metadata-only watch
(``as=PartialObjectMetadata``) turns every object into PartialObjectMetadata; asking a watch for
``PartialObjectMetadataList`` fails to encode the first object and ends the stream, as it does in the
apiserver.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tests.fakes import resources as r
from tests.fakes import views
from tests.fakes.listing import ListOptions
from tests.fakes.negotiation import PARTIAL, PARTIAL_LIST, MediaType
from tests.fakes.rest import Rest, parse_resource_version
from tests.fakes.selectors import Selector
from tests.fakes.status import ApiError, expired
from tests.fakes.storage import DELETED, Change, Compacted

JsonObject = dict[str, Any]
Event = tuple[str, JsonObject]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_POLL = 0.05


class Stream(Protocol):
    def start(self) -> None: ...
    def send(self, event: JsonObject) -> None: ...
    def end(self) -> None: ...
    def abort(self) -> None: ...
    def client_gone(self) -> bool: ...


@dataclass
class Watch:
    rest: Rest
    resource: r.ResourceType
    selector: Selector
    opts: ListOptions
    media: MediaType
    bookmark_interval: float
    gone_as_http_status: bool
    interrupted: Callable[[], bool]  # the server dropped watches or is shutting down

    def plan(self) -> tuple[int, list[Event]]:
        """Where the stream starts and what it sends first; the caller holds the store lock."""
        store, opts = self.rest.store, self.opts
        requested = None if opts.resource_version is None else parse_resource_version(opts.resource_version)
        if requested is None:
            cursor, objects = store.rv, store.items(self.resource.storage)
        elif requested == 0:
            cursor = self.rest.cache_rv()
            objects = store.snapshot(self.resource.storage, cursor)
        else:
            if opts.send_initial_events:
                self.rest.wait_fresh(requested)
            cursor = store.rv if opts.send_initial_events else requested
            if cursor < store.compacted_rv:
                raise Compacted(cursor, store.compacted_rv)
            objects = store.items(self.resource.storage)
        if opts.send_initial_events is False or (opts.send_initial_events is None and requested):
            return cursor, []
        initial = [("ADDED", views.render(self.resource, o, deep=False)) for o in objects]
        events = [(kind, obj) for kind, obj in initial if self.selector.matches(obj)]
        if opts.send_initial_events and opts.allow_bookmarks:
            events.append(("BOOKMARK", self._bookmark(cursor, initial_end=True)))
        return cursor, events

    def serve(self, stream: Stream) -> None:
        store = self.rest.store
        with store.lock:
            try:
                cursor, initial = self.plan()
            except Compacted as exc:
                message = f"too old resource version: {exc.requested} ({exc.oldest})"
                if self.gone_as_http_status:
                    raise ApiError(410, "Gone", message) from None
                stream.start()
                stream.send({"type": "ERROR", "object": expired(message).status})
                stream.end()
                return
            except ApiError as error:  # after validation, failures arrive as an ERROR event
                if error.code != 504:
                    raise
                initial, cursor = [("ERROR", error.status)], -1
        stream.start()
        self._stream(stream, cursor, initial)

    def _stream(self, stream: Stream, cursor: int, initial: list[Event]) -> None:
        store = self.rest.store
        start = time.monotonic()
        timeout = self.opts.timeout_seconds
        deadline = start + timeout if timeout else None
        next_bookmark = start + self.bookmark_interval
        if not self._send_all(stream, initial) or cursor < 0:
            stream.end()
            return
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                stream.end()
                return
            with store.lock:
                wake = min(t for t in (deadline, next_bookmark, now + _POLL) if t is not None)
                store.lock.wait_for(self._woken(cursor), timeout=max(0.0, wake - now))
                if self.interrupted():
                    stream.abort()
                    return
                try:
                    events = [e for change in store.changes_after(cursor) if (e := self._convert(change))]
                except Compacted:
                    # A slow reader whose events were compacted away: same answer as a late resume.
                    message = f"too old resource version: {cursor} ({store.compacted_rv})"
                    events, cursor = [("ERROR", expired(message).status)], -1
                else:
                    cursor = store.rv
                rv = store.rv
            if not self._send_all(stream, events) or cursor < 0:
                stream.end()
                return
            if self.opts.allow_bookmarks and time.monotonic() >= next_bookmark:
                if not self._send_all(stream, [("BOOKMARK", self._bookmark(rv))]):
                    stream.end()
                    return
                next_bookmark = time.monotonic() + self.bookmark_interval
            if stream.client_gone():
                return

    def _woken(self, cursor: int) -> Callable[[], bool]:
        store = self.rest.store
        return lambda: store.rv > cursor or self.interrupted()

    def _send_all(self, stream: Stream, events: list[Event]) -> bool:
        for kind, obj in events:
            if kind != "ERROR":
                if self.media.convert == PARTIAL_LIST:
                    return False  # the apiserver cannot encode an object as a list: the stream ends
                if self.media.convert == PARTIAL:
                    obj = views.partial(obj, self.media.group_version)
            stream.send({"type": kind, "object": obj})
        return True

    def _bookmark(self, rv: int, initial_end: bool = False) -> JsonObject:
        metadata: JsonObject = {"resourceVersion": str(rv)}
        if initial_end:
            metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
        return {"kind": self.resource.kind, "apiVersion": self.resource.api_version, "metadata": metadata}

    def _convert(self, change: Change) -> Event | None:
        """What this watcher sees of one change, following the cacher's rules for selectors."""
        if change.storage != self.resource.storage:
            return None
        # Shallow views: stored objects are never changed in place, and events are encoded at once.
        current = None if change.type == DELETED else views.render(self.resource, change.obj, deep=False)
        previous = None if change.prev is None else views.render(self.resource, change.prev, deep=False)
        now_matches = current is not None and self.selector.matches(current)
        matched = previous is not None and self.selector.matches(previous)
        if now_matches and not matched:
            return ("ADDED", current) if current is not None else None
        if now_matches and matched:
            return ("MODIFIED", current) if current is not None else None
        if matched and previous is not None:
            previous["metadata"] = {**previous["metadata"], "resourceVersion": str(change.rv)}
            return ("DELETED", previous)
        return None
