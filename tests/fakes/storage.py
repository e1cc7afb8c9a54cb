"""The fake's etcd: objects, one global revision, the change history, compaction and past snapshots.

Like etcd behind kube-apiserver: every write takes the next revision (shared by all resources), which
becomes the object's ``metadata.resourceVersion``; the history of changes is kept for a bounded window
(``history_window`` changes) or until ``compact()``; anything older is gone. The state as it was at a
revision still in the window can be rebuilt (``snapshot``), which is what ``resourceVersionMatch=Exact``
lists and ``continue`` tokens read, and what a stale watch cache serves.

One ``threading.Condition`` guards everything; writers notify it so that watchers wake at once.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class Compacted(Exception):
    """The revision asked for is older than the history kept."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"revision {requested} is compacted (oldest kept: {oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(frozen=True)
class Change:
    storage: str
    rv: int
    type: str
    obj: JsonObject  # the new state; for DELETED the last state, stamped with the deletion's revision
    prev: JsonObject | None


def etcd_order(key: Key) -> str:
    """etcd sorts keys bytewise: ``<namespace>/<name>``, so "a-b/x" comes before "a/x"."""
    return f"{key[0]}/{key[1]}"


def key_of(obj: JsonObject) -> Key:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


@dataclass
class Store:
    history_window: int = 10_000
    lock: threading.Condition = field(default_factory=threading.Condition)
    rv: int = 1000
    compacted_rv: int = 1000
    objects: dict[str, dict[Key, JsonObject]] = field(default_factory=dict)
    history: deque[Change] = field(default_factory=deque)

    # All methods expect the caller to hold ``lock``.

    def get(self, storage: str, namespace: str, name: str) -> JsonObject | None:
        return self.objects.get(storage, {}).get((namespace, name))

    def items(self, storage: str) -> list[JsonObject]:
        """Current objects in etcd key order (namespace, then name)."""
        objects = self.objects.get(storage, {})
        return [objects[key] for key in sorted(objects, key=etcd_order)]

    def write(self, storage: str, kind: str, obj: JsonObject, prev: JsonObject | None) -> JsonObject:
        """Record one change at the next revision; returns a copy of what was stored."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        objects = self.objects.setdefault(storage, {})
        if kind == DELETED:
            del objects[key_of(obj)]
        else:
            objects[key_of(obj)] = obj
        self.history.append(Change(storage, self.rv, kind, obj, prev))
        while len(self.history) > self.history_window:
            self.compacted_rv = self.history.popleft().rv
        self.lock.notify_all()
        return copy.deepcopy(obj)

    def compact(self) -> None:
        self.history.clear()
        self.compacted_rv = self.rv
        self.lock.notify_all()

    def changes_after(self, rv: int) -> list[Change]:
        if rv < self.compacted_rv:
            raise Compacted(rv, self.compacted_rv)
        return [change for change in self.history if change.rv > rv]

    def snapshot(self, storage: str, rv: int) -> list[JsonObject]:
        """The objects of ``storage`` as they were at revision ``rv`` (at most the current one)."""
        if rv < self.compacted_rv:
            raise Compacted(rv, self.compacted_rv)
        objects = dict(self.objects.get(storage, {}))
        for change in reversed(self.history):
            if change.rv <= rv:
                break
            if change.storage != storage:
                continue
            if change.type == ADDED:
                objects.pop(key_of(change.obj), None)
            elif change.prev is not None:
                objects[key_of(change.prev)] = change.prev
        return [objects[key] for key in sorted(objects, key=etcd_order)]
