"""The record of what the fake received: every request, and counters per verb and resource."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_TRUE = frozenset({"1", "t", "true"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    path: str
    params: Mapping[str, str]
    method: str = "GET"
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    verb: str | None = None  # get, list, watch, create, update, patch, delete, deletecollection
    resource: str | None = None  # configmaps, deployments.apps, events.events.k8s.io…

    @property
    def watch(self) -> bool:
        return self.params.get("watch", "").lower() in _TRUE

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """What the fake received; guarded by the store's lock."""

    lock: threading.Condition
    requests: list[RecordedRequest] = field(default_factory=list)
    verbs: Counter[tuple[str, str]] = field(default_factory=Counter)
    list_requests: int = 0
    watch_requests: int = 0
    open_watches: int = 0
    drop_generation: int = 0

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def count(self, verb: str, resource: str) -> None:
        with self.lock:
            self.verbs[(verb, resource)] += 1
