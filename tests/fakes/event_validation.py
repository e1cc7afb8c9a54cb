"""Event validation (pkg/apis/core/validation/events.go), on the stored core/v1 form.

Core/v1 writes get the legacy rules only; events.k8s.io/v1 writes also the strict ones: ``eventTime``,
``reportingController`` (a qualified name), ``reportingInstance``, ``action`` and ``reason`` required
and bounded, ``type`` Normal or Warning, the deprecated fields unset, a ``series`` of at least 2; and on
update everything but ``series`` is immutable. Field paths are the internal names, as the apiserver
reports them (``message``, ``reportingController``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.fakes.status import FieldError
from tests.fakes.validation import qualified_name_errors

JsonObject = dict[str, Any]

_REPORTING_INSTANCE_LIMIT = _ACTION_LIMIT = _REASON_LIMIT = 128
_NOTE_LIMIT = 1024


def event_errors(event: JsonObject, strict: bool) -> Iterator[FieldError]:
    namespace = event["metadata"].get("namespace", "")
    involved_namespace = (event.get("involvedObject") or {}).get("namespace", "")
    if not event.get("eventTime"):
        if (involved_namespace and namespace != involved_namespace) or (
            not involved_namespace and namespace not in ("", "default")
        ):
            yield FieldError(
                "Invalid", "involvedObject.namespace", involved_namespace, "does not match event.namespace"
            )
    else:
        if not involved_namespace and namespace not in ("default", "kube-system"):
            yield FieldError(
                "Invalid", "involvedObject.namespace", involved_namespace, "does not match event.namespace"
            )
        yield from _reporting_errors(event)
    if strict:
        yield from _strict_event_errors(event)


def _reporting_errors(event: JsonObject) -> Iterator[FieldError]:
    controller = event.get("reportingComponent", "")
    if not controller:
        yield FieldError("Required", "reportingController")
    else:
        for error in qualified_name_errors(controller, "reportingController"):
            yield FieldError("Invalid", "reportingController", controller, error.detail)
    limits = (
        ("reportingInstance", "reportingInstance", _REPORTING_INSTANCE_LIMIT, True),
        ("action", "action", _ACTION_LIMIT, True),
        ("reason", "reason", _REASON_LIMIT, True),
        ("message", "message", _NOTE_LIMIT, False),
    )
    for key, path, limit, required in limits:
        value = event.get(key) or ""
        if required and not value:
            yield FieldError("Required", path)
        if len(value) > limit:
            yield FieldError("Invalid", path, "", f"can have at most {limit} characters")


def _strict_event_errors(event: JsonObject) -> Iterator[FieldError]:
    yield from _series_errors(event)
    if not event.get("eventTime"):
        yield FieldError("Required", "eventTime")
    if event.get("type") not in ("Normal", "Warning"):
        yield FieldError("Invalid", "type", "", f"has invalid value: {event.get('type', '')}")
    for key in ("firstTimestamp", "lastTimestamp", "count"):
        if event.get(key):
            yield FieldError("Invalid", key, "", "needs to be unset")
    source = event.get("source") or {}
    if source.get("component") or source.get("host"):
        yield FieldError("Invalid", "source", "", "needs to be unset")


def _series_errors(event: JsonObject) -> Iterator[FieldError]:
    series = event.get("series")
    if series:
        if (series.get("count") or 0) < 2:
            yield FieldError("Invalid", "series.count", "", "should be at least 2")
        if not series.get("lastObservedTime"):
            yield FieldError("Required", "series.lastObservedTime")


_IMMUTABLE_EVENT_FIELDS = (
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "type",
    "eventTime",
    "action",
    "related",
    "reportingComponent",
    "reportingInstance",
)


def event_update_errors(new: JsonObject, old: JsonObject, strict: bool) -> Iterator[FieldError]:
    yield from event_errors(new, strict=False)
    if not strict:
        return
    if new.get("series") != old.get("series"):
        yield from _series_errors(new)
    for key in _IMMUTABLE_EVENT_FIELDS:
        if new.get(key) != old.get(key):
            path = "reportingController" if key == "reportingComponent" else key
            yield FieldError("Invalid", path, new.get(key), "field is immutable")
