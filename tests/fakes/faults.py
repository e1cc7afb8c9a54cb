"""Faults a test injects into chosen endpoints: fail them, or hold them before answering.

A ``Fault`` matches requests by verb (``create``, ``get``, ``list``, ``watch``, ``update``, ``patch``,
``delete``, ``deletecollection``), resource (``events``, ``deployments.apps``…), namespace, name,
subresource and a part of the ``User-Agent`` (to fail one client among several); ``None`` matches
anything. Matching requests are held ``hang`` seconds (a server that
accepted the connection and stays silent: the client's timeouts are what ends it), then answered with
``status`` (a Status body in kube-apiserver's shape) if set, else served normally. ``times`` limits how
many requests it applies to; ``hits`` counts them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.resources import Target
from tests.fakes.status import ApiError

_REASONS = {
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
    403: "Forbidden",
    409: "Conflict",
}


@dataclass
class Fault:
    verb: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    user_agent: str | None = None
    status: int | None = 500
    message: str = "injected by the test"
    hang: float = 0.0
    times: int | None = None
    hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def claim(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        name: str | None,
        subresource: str | None,
        user_agent: str = "",
    ) -> bool:
        wanted = (self.verb, self.resource, self.namespace, self.name, self.subresource)
        actual = (verb, resource, namespace, name, subresource)
        if any(w is not None and w != a for w, a in zip(wanted, actual, strict=True)):
            return False
        if self.user_agent is not None and self.user_agent not in user_agent:
            return False
        with self._lock:
            if self.times is not None and self.hits >= self.times:
                return False
            self.hits += 1
            return True

    def error(self) -> ApiError | None:
        if self.status is None:
            return None
        code = self.status
        message = f"Internal error occurred: {self.message}" if code == 500 else self.message
        details = {"retryAfterSeconds": 1} if code in (429, 503) else None
        return ApiError(code, _REASONS.get(code, ""), message, details)


class Faults:
    """The faults in force, first match wins; ``hold`` waits (and ends early when the server stops)."""

    def __init__(self, hold: Callable[[float], None]) -> None:
        self._hold = hold
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def apply(self, verb: str, target: Target, user_agent: str = "") -> None:
        with self._lock:
            faults = list(self._faults)
        resource = target.resource.qualified
        for fault in faults:
            if fault.claim(verb, resource, target.namespace, target.name, target.subresource, user_agent):
                if fault.hang:
                    self._hold(fault.hang)
                error = fault.error()
                if error is not None:
                    raise error
                return
