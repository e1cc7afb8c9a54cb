"""List semantics: ``resourceVersion``/``resourceVersionMatch``, ``limit``/``continue``, and the
validation of list and watch options, as kube-apiserver (cacher in front of etcd3) implements them.

=========================  ===========================================================================
``resourceVersion``         what a list serves
=========================  ===========================================================================
unset                       the latest state (a consistent read); ``limit`` pages it
``"0"``                     whatever the watch cache holds ("Any"); ``limit`` is ignored, no continue
``N`` + ``Exact``, or       the state at exactly N (a snapshot): 410 Expired "The resourceVersion for
``N`` + ``limit`` (legacy)  the provided list is too old." once compacted, a 500 if N is in the future
``N`` (+ ``NotOlderThan``)  waits for the store to reach N (504 after ``fresh_wait``), then the latest
=========================  ===========================================================================

``continue`` tokens are the apiserver's (base64 of ``{"v":"meta.k8s.io/v1","rv":N,"start":KEY}``): every
page is read from the first page's snapshot; once compacted, 410 Expired with an "inconsistent" token
that continues from the latest state. ``metadata.remainingItemCount`` is set only without selectors; a
page that fills its limit carries a continue token whenever any key follows, even if no further item
matches (so the last page may be empty).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes import resources as r
from tests.fakes import views
from tests.fakes.rest import Rest, parse_resource_version
from tests.fakes.selectors import Selector
from tests.fakes.status import FieldError, bad_request, expired, invalid, unconverted
from tests.fakes.storage import Compacted

JsonObject = dict[str, Any]
_TRUE = frozenset({"1", "t", "true", "True", "TRUE"})
EXPIRED_LIST = "The resourceVersion for the provided list is too old."
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True)
class ListOptions:
    watch: bool = False
    resource_version: str | None = None
    match: str = ""
    limit: int = 0
    continue_token: str = ""
    send_initial_events: bool | None = None
    allow_bookmarks: bool = False
    timeout_seconds: int | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ListOptions:
        def boolean(name: str) -> bool | None:
            return None if name not in params else params[name] in _TRUE

        limit, timeout = _integer(params, "limit"), _integer(params, "timeoutSeconds")
        return cls(
            watch=bool(boolean("watch")),
            resource_version=params.get("resourceVersion") or None,
            match=params.get("resourceVersionMatch", ""),
            limit=max(limit or 0, 0),
            continue_token=params.get("continue", ""),
            send_initial_events=boolean("sendInitialEvents"),
            allow_bookmarks=bool(boolean("allowWatchBookmarks")),
            timeout_seconds=timeout,
        )

    def validate(self) -> None:
        errors = list(self._watch_errors() if self.watch else self._list_errors())
        if errors:
            raise invalid("ListOptions", "meta.k8s.io", "", errors)

    def _list_errors(self) -> list[FieldError]:
        errors = []
        if self.match:
            if not self.resource_version:
                errors.append(
                    _forbidden("resourceVersionMatch is forbidden unless resourceVersion is provided")
                )
            if self.continue_token:
                errors.append(_forbidden("resourceVersionMatch is forbidden when continue is provided"))
            if self.match not in ("Exact", "NotOlderThan"):
                supported = ("Exact", "NotOlderThan", "")
                errors.append(
                    FieldError("NotSupported", "resourceVersionMatch", self.match, supported=supported)
                )
            if self.match == "Exact" and self.resource_version == "0":
                errors.append(_forbidden('resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
        if self.send_initial_events is not None:
            errors.append(
                FieldError("Forbidden", "sendInitialEvents", detail="sendInitialEvents is forbidden for list")
            )
        return errors

    def _watch_errors(self) -> list[FieldError]:
        errors = []
        if self.send_initial_events is not None and self.match != "NotOlderThan":
            errors.append(
                _forbidden("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
            )
        if self.match:
            if self.send_initial_events is None:
                errors.append(
                    _forbidden(
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
                    )
                )
            if self.match != "NotOlderThan":
                errors.append(
                    FieldError(
                        "NotSupported", "resourceVersionMatch", self.match, supported=("NotOlderThan",)
                    )
                )
            if self.continue_token:
                errors.append(_forbidden("resourceVersionMatch is forbidden when continue is provided"))
        return errors


def _integer(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _forbidden(detail: str) -> FieldError:
    return FieldError("Forbidden", "resourceVersionMatch", detail=detail)


def encode_continue(start_key: str, rv: int) -> str:
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start_key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise bad_request(f"invalid continue token: continue key is not valid: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise bad_request(
            "invalid continue token: continue key is not valid: server does not recognize this encoded version"
        )
    if not isinstance(data.get("rv"), int) or data["rv"] == 0:
        message = (
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        )
        raise bad_request(f"invalid continue token: {message}")
    if not data.get("start"):
        raise bad_request(
            "invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"
        )
    return str(data["start"]), data["rv"]


def list_key(resource: r.ResourceType, selector: Selector, obj: JsonObject) -> str:
    """The object's etcd key relative to the list's prefix (``ns/name``, or ``name`` in one namespace)."""
    meta = obj["metadata"]
    if resource.namespaced and selector.namespace is None:
        return f"{meta['namespace']}/{meta['name']}"
    return str(meta["name"])


def list_objects(rest: Rest, resource: r.ResourceType, selector: Selector, opts: ListOptions) -> JsonObject:
    """A list response body; the caller holds the store lock. Its items share nested values with the
    store: encode it, do not change it."""
    store = rest.store
    start = ""
    paginate = True
    try:
        if opts.continue_token:
            if opts.resource_version not in (None, "0"):
                raise bad_request("specifying resource version is not allowed when using continue")
            start, list_rv = decode_continue(opts.continue_token)
            if list_rv < 0:
                list_rv = store.rv
            objects = _snapshot(rest, resource, list_rv, continuing=(start, selector))
        elif opts.resource_version is None:
            list_rv, objects = store.rv, store.items(resource.storage)
        else:
            requested = parse_resource_version(opts.resource_version)
            exact = opts.match == "Exact" or (not opts.match and opts.limit > 0 and requested > 0)
            if exact:
                if requested > store.rv:
                    raise unconverted("etcdserver: mvcc: required revision is a future revision")
                list_rv, objects = requested, _snapshot(rest, resource, requested)
            elif requested == 0:
                list_rv, paginate = rest.cache_rv(), False
                objects = _snapshot(rest, resource, list_rv)
            else:
                rest.wait_fresh(requested)
                list_rv, objects = store.rv, store.items(resource.storage)
    except Compacted:
        raise expired(EXPIRED_LIST) from None
    return _page(resource, selector, objects, list_rv, start, opts.limit if paginate else 0)


def _snapshot(
    rest: Rest, resource: r.ResourceType, rv: int, continuing: tuple[str, Selector] | None = None
) -> list[JsonObject]:
    try:
        return rest.store.snapshot(resource.storage, rv)
    except Compacted:
        if continuing is None:
            raise
        raise expired(INCONSISTENT_CONTINUE, encode_continue(continuing[0], -1)) from None


def _page(
    resource: r.ResourceType,
    selector: Selector,
    objects: list[JsonObject],
    list_rv: int,
    start: str,
    limit: int,
) -> JsonObject:
    keyed = [(list_key(resource, selector, o), o) for o in objects if _in_scope(selector, o)]
    keyed = [(k, o) for k, o in keyed if k >= start] if start else keyed
    items: list[JsonObject] = []
    metadata: JsonObject = {"resourceVersion": str(list_rv)}
    last_key = ""
    for index, (key, obj) in enumerate(keyed):
        if limit and len(items) == limit:
            # etcd reports "more" when any key follows, matching or not.
            metadata["continue"] = encode_continue(last_key + "\x00", list_rv)
            if selector.empty:
                metadata["remainingItemCount"] = len(keyed) - index
            break
        last_key = key
        # Field selectors name the fields of the request's version (events.k8s.io's differ).
        view = views.render(resource, obj, deep=False) if resource.shared_storage else obj
        if selector.matches(view):
            items.append(views.list_item(resource, obj, deep=False))
    return {
        "kind": resource.list_kind,
        "apiVersion": resource.api_version,
        "metadata": metadata,
        "items": items,
    }


def _in_scope(selector: Selector, obj: JsonObject) -> bool:
    return selector.namespace is None or obj["metadata"].get("namespace") == selector.namespace
