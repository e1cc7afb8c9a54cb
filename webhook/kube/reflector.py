"""Pure (sans-IO) list/watch state machine for one Kubernetes collection, as lightkube separates it.

The driver (``watch.CollectionWatcher``, one thread per collection) does the I/O and feeds this
module what the API server said; it answers with the changes to the local object map and what to
do next. Nothing here reads a clock, a socket or the environment, so every transition is
unit-testable and the driver stays a thin loop.

The list/watch contract, stated here once (the other modules and docs/design.md point to it), as
https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes sets it:

1. List without a resourceVersion (a consistent read): ``on_list`` replaces the whole map, and the
   list's ``metadata.resourceVersion`` is where the watch starts.
2. Watch with ``allowWatchBookmarks=true`` and ``timeoutSeconds``: ``on_event`` applies ADDED,
   MODIFIED and DELETED to the map and moves the last seen resourceVersion; a BOOKMARK only moves it.
3. A server-side timeout (a clean end of stream) or a broken connection, ``on_stream_end``, resumes
   the watch from the last seen resourceVersion: no re-list (the server still holds the history),
   unless no resourceVersion is known.
4. 410 Gone, as an HTTP status on the watch request (``on_watch_rejected``) or as an ERROR event
   whose Status has code 410, means the history is gone: forget the resourceVersion, re-list once,
   then watch from the new list's. Any other ERROR resumes from the last seen resourceVersion.
5. A request that does not lead to a healthy watch (refused, failed, an ERROR event, a stream that
   ends at once with no event) is followed by an exponential backoff with jitter (``Backoff``;
   ``watch.Timings`` holds the delays), so an unreachable API is never hammered; a healthy watch
   resets it.

An optional ``accept`` predicate filters objects client-side (used for the legacy
``<name>-initializer`` ConfigMaps a label selector cannot find). An object that stops passing it is
reported as gone, exactly as the API server reports an object leaving a label selector (DELETED).
An optional ``transform`` keeps only a projection of each accepted object (client-go's informer
``SetTransform``): the map holds what it returns, so a watch of ten thousand Pods holds ten thousand
small projections, not ten thousand Pods. Lists may come in pages (``limit``/``continue``): each page
is fed to ``on_list_page`` and projected at once, and the map is replaced when the last page is in,
so at most one page of whole objects is held at a time. Every page of one list is read from the
same snapshot, whose resourceVersion the watch then starts from. A metadata-only list of nothing
says ``items: null`` (kube-apiserver's PartialObjectMetadataList omits the empty slice); that is an
empty page.

Typed collections: kube-apiserver serves the items of a List without ``kind`` and ``apiVersion``
(only the List itself says ``ConfigMapList``), while watch events carry them. Given the collection's
``kind``, every object the reflector hands on carries that kind and its ``apiVersion``, whichever
way it arrived, so consumers can check ``kind`` without caring; an object whose own ``kind``
contradicts the collection's is refused (left out and reported), never taken for one.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

JsonObject = dict[str, Any]
ObjectKey = tuple[str, str]
"""(namespace, name); namespace is "" for cluster-scoped objects."""

HTTP_GONE = 410


class NextAction(enum.Enum):
    NONE = "none"
    """Keep reading the current stream."""
    RELIST = "relist"
    """Forget the resourceVersion, list again, then watch from the list's resourceVersion."""
    RESUME = "resume"
    """Open a new watch from the last seen resourceVersion (no list)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One object's new state; ``obj`` None means it is gone (deleted, or no longer selected)."""

    key: ObjectKey
    obj: JsonObject | None
    event: str


@dataclass(frozen=True, slots=True)
class Step:
    """The reflector's answer to one input."""

    changes: tuple[Change, ...] = ()
    action: NextAction = NextAction.NONE
    backoff: bool = False
    """True when the next request should wait (the server reported a problem)."""
    reason: str = ""
    refused: bool = False
    """The event's object was of another kind than the collection's and was left out."""


class ProtocolViolation(ValueError):
    """The server sent something that is not a List or a watch event; the caller should re-list."""


@dataclass(frozen=True, slots=True)
class ItemType:
    """What every object of a collection is: the list's items are stamped with it."""

    kind: str
    api_version: str

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def stamp(self, obj: JsonObject) -> JsonObject | None:
        """``obj`` with this kind and apiVersion (a shallow copy when they were missing); None when
        ``obj`` says it is of another kind."""
        kind = obj.get("kind")
        if kind == self.kind and obj.get("apiVersion"):
            return obj
        if kind not in (None, "", self.kind):
            return None
        return {**obj, "kind": self.kind, "apiVersion": obj.get("apiVersion") or self.api_version}


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise ProtocolViolation("object without metadata.name")
    namespace = metadata.get("namespace") or ""
    if not isinstance(namespace, str):
        raise ProtocolViolation("object with a non-string metadata.namespace")
    return (namespace, metadata["name"])


def resource_version_of(obj: Mapping[str, Any]) -> str | None:
    """resourceVersions are opaque strings: compared for equality only, never ordered."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        version = metadata.get("resourceVersion")
        if isinstance(version, str) and version:
            return version
    return None


class Reflector:
    """The local mirror of one collection plus its resourceVersion bookkeeping.

    Not thread-safe: one driver thread owns it.
    """

    def __init__(
        self,
        accept: Callable[[Mapping[str, Any]], bool] | None = None,
        item_type: ItemType | None = None,
        transform: Callable[[JsonObject], JsonObject] | None = None,
    ) -> None:
        self._accept = accept or (lambda _obj: True)
        self._item_type = item_type
        self._transform = transform or (lambda obj: obj)
        self._objects: dict[ObjectKey, JsonObject] = {}
        self._pending: dict[ObjectKey, JsonObject] = {}
        self._pending_refused: list[str] = []
        self.resource_version: str | None = None
        self.refused: tuple[str, ...] = ()
        """What the last list left out because its kind contradicts the collection's."""

    @property
    def objects(self) -> Mapping[ObjectKey, JsonObject]:
        return self._objects

    def on_list(self, body: Mapping[str, Any]) -> Mapping[ObjectKey, JsonObject]:
        """Replace the whole map with a List response; returns the new map (already filtered)."""
        self.begin_list()
        if self.on_list_page(body) is not None:
            raise ProtocolViolation("a List with a continue token where a whole list was expected")
        return self._objects

    def begin_list(self) -> None:
        """A new list begins (its first page next); pages of an earlier, unfinished one are dropped."""
        self._pending = {}
        self._pending_refused = []

    def on_list_page(self, body: Mapping[str, Any]) -> str | None:
        """One page of a list; returns its continue token, or None once the list is complete and
        has replaced the map."""
        version = resource_version_of(body)
        items = body.get("items")
        if items is None and version is not None:
            items = []
        if version is None or not isinstance(items, list):
            raise ProtocolViolation("a List needs metadata.resourceVersion and items")
        item_type = self._item_type
        if item_type is not None and body.get("kind") not in (None, item_type.list_kind):
            raise ProtocolViolation(f"expected a {item_type.list_kind}, got a {body.get('kind')}")
        for item in items:
            if not isinstance(item, dict):
                continue
            typed = self._typed(item)
            if typed is None:
                self._pending_refused.append(_describe(item))
            elif self._accept(typed):
                self._pending[object_key(typed)] = self._transform(typed)
        token = (body.get("metadata") or {}).get("continue")
        if isinstance(token, str) and token:
            return token
        self._objects, self._pending = self._pending, {}
        self.resource_version = version
        self.refused, self._pending_refused = tuple(self._pending_refused), []
        return None

    def on_line(self, line: bytes) -> Step:
        """One newline-delimited JSON watch event as read off the wire."""
        try:
            event = json.loads(line)
        except ValueError:
            return self._corrupt("a watch line is not JSON")
        if not isinstance(event, dict):
            return self._corrupt("a watch line is not a JSON object")
        return self.on_event(event)

    def on_event(self, event: Mapping[str, Any]) -> Step:
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return self._corrupt(f"watch event {kind!r} without an object")
        if kind == "ERROR":
            return self._on_error(obj)
        if kind == "BOOKMARK":
            version = resource_version_of(obj)
            if version is None:
                return self._corrupt("BOOKMARK without metadata.resourceVersion")
            self.resource_version = version
            return Step(reason="bookmark")
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return self._corrupt(f"unknown watch event type {kind!r}")
        try:
            key = object_key(obj)
        except ProtocolViolation as exc:
            return self._corrupt(str(exc))
        version = resource_version_of(obj)
        if version is not None:
            self.resource_version = version
        typed = self._typed(obj)
        if typed is None:
            return Step(reason=f"refused a {kind} event for {_describe(obj)}", refused=True)
        obj = typed
        if kind != "DELETED" and self._accept(obj):
            projected = self._transform(obj)
            self._objects[key] = projected
            return Step(changes=(Change(key, projected, kind),))
        if self._objects.pop(key, None) is not None:
            return Step(changes=(Change(key, None, kind),))
        return Step()

    def on_stream_end(self) -> Step:
        """The server closed the stream (timeout) or the connection broke: resume, do not re-list."""
        if self.resource_version is None:
            return Step(action=NextAction.RELIST, reason="no resourceVersion to resume from")
        return Step(action=NextAction.RESUME, reason="stream ended")

    def on_watch_rejected(self, status: int) -> Step:
        """The watch request itself failed with an HTTP status (no stream was opened)."""
        if status == HTTP_GONE:
            self.resource_version = None
            return Step(action=NextAction.RELIST, reason="HTTP 410 Gone on the watch request")
        action = NextAction.RESUME if self.resource_version is not None else NextAction.RELIST
        return Step(action=action, backoff=True, reason=f"watch request failed with HTTP {status}")

    def _typed(self, obj: JsonObject) -> JsonObject | None:
        return obj if self._item_type is None else self._item_type.stamp(obj)

    def _on_error(self, status: Mapping[str, Any]) -> Step:
        code = status.get("code")
        message = status.get("message") or status.get("reason") or "no message"
        if code == HTTP_GONE:
            self.resource_version = None
            return Step(action=NextAction.RELIST, reason=f"410 Gone: {message}")
        action = NextAction.RESUME if self.resource_version is not None else NextAction.RELIST
        return Step(action=action, backoff=True, reason=f"ERROR event (code {code}): {message}")

    def _corrupt(self, reason: str) -> Step:
        # The stream can no longer be trusted to have delivered every change, so only a fresh
        # list restores a known state; the backoff keeps a misbehaving server from a tight loop.
        self.resource_version = None
        return Step(action=NextAction.RELIST, backoff=True, reason=reason)


def _describe(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{obj.get('kind')} {name!r} (not of this collection's kind)"


class LineBuffer:
    """Splits a byte stream into complete lines; a trailing partial line waits for more bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer.extend(data)
        *lines, rest = self._buffer.split(b"\n")
        self._buffer = bytearray(rest)
        return [bytes(line) for line in lines if line.strip()]

    @property
    def pending(self) -> int:
        return len(self._buffer)


class Backoff:
    """Exponential backoff with jitter: ``initial`` doubling up to ``cap``, each delay scaled by a random
    factor in [1 - jitter, 1] so replicas do not reconnect in lockstep. Never returns 0, so a caller
    that waits for every delay can never spin."""

    def __init__(
        self,
        initial: float,
        cap: float,
        factor: float = 2.0,
        jitter: float = 0.5,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if initial <= 0 or cap < initial or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("backoff needs 0 < initial <= cap, factor >= 1 and 0 <= jitter < 1")
        self._initial, self._cap, self._factor, self._jitter, self._rng = initial, cap, factor, jitter, rng
        self.attempt = 0

    def next_delay(self) -> float:
        base = min(self._cap, self._initial * self._factor**self.attempt)
        if base < self._cap:  # stop growing the exponent once capped: no float overflow, ever
            self.attempt += 1
        return base * (1 - self._jitter * self._rng())

    def reset(self) -> None:
        self.attempt = 0
