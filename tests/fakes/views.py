"""How a stored object looks through the version a request names, and back.

Objects are stored as the apiserver stores them (core/v1 form for Events). On the way out they get
their ``kind``/``apiVersion`` and Go's JSON shapes: a zero ``metav1.Time`` is ``null``, an empty
struct is ``{}``, a string without ``omitempty`` is ``""`` (a core Event always shows ``source: {}``,
``firstTimestamp: null``, ``reportingComponent: ""``). events.k8s.io/v1 Events are converted field by
field (``regarding``↔``involvedObject``, ``note``↔``message``, ``deprecatedCount``↔``count``…) both ways.

Metadata-only responses (``as=PartialObjectMetadata[List]``) keep ``metadata`` alone, under
``kind: PartialObjectMetadata`` and ``apiVersion: meta.k8s.io/v1``, for every item of a list too.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes import resources as r

JsonObject = dict[str, Any]

# events.k8s.io/v1 name → core/v1 name
_EVENT_FIELDS = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_SAME_EVENT_FIELDS = (
    "metadata",
    "eventTime",
    "series",
    "reportingInstance",
    "action",
    "reason",
    "related",
    "type",
)


def to_storage(resource: r.ResourceType, obj: JsonObject) -> JsonObject:
    """What a client sent (in the request's version), as stored; empty/null fields dropped."""
    stored = copy.deepcopy(obj)
    if resource is r.EVENTS_V1:
        stored = {_EVENT_FIELDS.get(k, k): v for k, v in stored.items() if k not in ("kind", "apiVersion")}
    stored["kind"], stored["apiVersion"] = (
        (r.EVENTS.kind, r.EVENTS.api_version)
        if resource.storage == "events"
        else (resource.kind, resource.api_version)
    )
    if resource.storage == "events":
        for key in ("firstTimestamp", "lastTimestamp", "eventTime", "involvedObject", "source"):
            if stored.get(key) in (None, {}):
                stored.pop(key, None)
        for key in ("reportingComponent", "reportingInstance"):
            if stored.get(key) == "":
                stored.pop(key)
    return stored


def render(resource: r.ResourceType, stored: JsonObject, *, deep: bool = True) -> JsonObject:
    """A stored object as a response (GET, watch event, write answer) in ``resource``'s version.

    ``deep=False`` shares nested values with the store, for a body that is encoded at once and never
    changed (stored objects are replaced on write, never mutated, so this is safe and much faster).
    """
    obj = copy.deepcopy(stored) if deep else dict(stored)
    if resource.storage != "events":
        obj["kind"], obj["apiVersion"] = resource.kind, resource.api_version
        return obj
    if resource is r.EVENTS_V1:
        core_to_v1 = {v: k for k, v in _EVENT_FIELDS.items()}
        view: JsonObject = {"kind": "Event", "apiVersion": "events.k8s.io/v1"}
        view.update({core_to_v1.get(k, k): v for k, v in obj.items() if k not in ("kind", "apiVersion")})
        view.setdefault("eventTime", None)
        view.setdefault("regarding", {})
        view.setdefault("deprecatedSource", {})
        view.setdefault("deprecatedFirstTimestamp", None)
        view.setdefault("deprecatedLastTimestamp", None)
        return view
    obj["kind"], obj["apiVersion"] = "Event", "v1"
    obj.setdefault("involvedObject", {})
    obj.setdefault("source", {})
    obj.setdefault("firstTimestamp", None)
    obj.setdefault("lastTimestamp", None)
    obj.setdefault("eventTime", None)
    obj.setdefault("reportingComponent", "")
    obj.setdefault("reportingInstance", "")
    return obj


def list_item(resource: r.ResourceType, stored: JsonObject, *, deep: bool = True) -> JsonObject:
    """A list item: as ``render`` but without kind/apiVersion, as kube-apiserver serves items."""
    item = render(resource, stored, deep=deep)
    item.pop("kind", None)
    item.pop("apiVersion", None)
    return item


def partial(obj: JsonObject, group_version: str) -> JsonObject:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": group_version,
        "metadata": copy.deepcopy(obj["metadata"]),
    }


def partial_list(list_body: JsonObject, group_version: str) -> JsonObject:
    # Go builds the items slice by appending, so an empty list is encoded as null, not [].
    items = [partial(item, group_version) for item in list_body["items"]] or None
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": group_version,
        "metadata": list_body["metadata"],
        "items": items,
    }
