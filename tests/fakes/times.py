"""Times on the wire: decoding checks the layout (a 400 before any validation), encoding normalizes.

``metav1.Time`` decodes any RFC 3339 time and is served in UTC with whole seconds; ``metav1.MicroTime``
(Lease renew/acquire times, Event ``eventTime`` and series) must have exactly six fractional digits —
Go's layout ``2006-01-02T15:04:05.000000Z07:00`` — and is served in UTC with microseconds. A client
that writes ``datetime.isoformat()`` of a time whose microsecond is 0 is refused, as by a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tests.fakes import resources as r
from tests.fakes.status import bad_request

JsonObject = dict[str, Any]

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_RFC3339_MICRO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})")
MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"


def _time_fields(resource: r.ResourceType, obj: JsonObject) -> Iterator[tuple[JsonObject, str, bool]]:
    """(container, key, is_micro) for every time field the fake knows in this object."""
    yield obj.get("metadata") or {}, "creationTimestamp", False
    if resource is r.LEASES:
        spec = obj.get("spec") or {}
        yield spec, "acquireTime", True
        yield spec, "renewTime", True
    if resource.storage == "events":
        yield obj, "eventTime", True
        yield obj.get("series") or {}, "lastObservedTime", True
        for key in ("firstTimestamp", "lastTimestamp", "deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
            yield obj, key, False
    for condition in (obj.get("status") or {}).get("conditions") or []:
        for key in ("lastTransitionTime", "lastUpdateTime", "lastProbeTime"):
            yield condition, key, False


def check_and_normalize_times(resource: r.ResourceType, obj: JsonObject) -> None:
    """Reject a time the apiserver's decoder cannot parse (400); rewrite the others as it serves them."""
    for container, key, micro in list(_time_fields(resource, obj)):
        value = container.get(key)
        if value is None or not isinstance(container, dict):
            continue
        pattern = _RFC3339_MICRO if micro else _RFC3339
        if not isinstance(value, str) or not pattern.fullmatch(value):
            layout = MICRO_LAYOUT if micro else "2006-01-02T15:04:05Z07:00"
            raise bad_request(
                f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
                f'parsing time "{value}" as "{layout}": cannot parse "{value}" as "{layout}"'
            )
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        container[key] = parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")
