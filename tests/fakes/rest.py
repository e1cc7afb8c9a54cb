"""GET, POST, PUT and PATCH on one object, with kube-apiserver's semantics and errors.

- reads: ``resourceVersion`` unset is the latest state; ``"0"`` is whatever the watch cache holds
  (``cache_lag`` revisions behind, if a test asks for a stale cache); any other value waits for the
  store to reach it and answers 504 "Too large resource version" if it does not within
  ``fresh_wait`` seconds;
- create: the namespace must exist and not be terminating; ``generateName``; AlreadyExists; a
  resourceVersion in the body is refused (500, as etcd3's storage answers);
- update: the name and namespace must match the URL; a stale ``metadata.resourceVersion`` is a 409
  Conflict; a missing one is allowed except for Leases (422 "must be specified for an update");
  Leases and Events may be created by PUT; an update that changes nothing writes nothing (same
  resourceVersion, no watch event);
- patch: applied to the object as the request's version shows it, then handled as an update
  (a resourceVersion the patch sets is a precondition; none means "the current one");
- ``dryRun=All``: everything but the write;
- mutating admission webhooks a test registered (``admission``) see every create and every update of
  the object itself, after defaulting and before validation, and their patch is defaulted again.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes import defaults, patching, strategic, strategies, times, validation, views
from tests.fakes import resources as r
from tests.fakes.admission import Admission
from tests.fakes.status import (
    ApiError,
    FieldError,
    GoLiteral,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    too_large_resource_version,
    unconverted,
)
from tests.fakes.storage import ADDED, DELETED, MODIFIED, Store

JsonObject = dict[str, Any]


class Rest:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.fresh_wait = 3.0  # kube-apiserver waits up to 3 s for a resourceVersion it has not seen
        self.cache_lag = 0  # revisions the watch cache trails the store by, for resourceVersion "0"
        self.admission = Admission()
        self.user = ""

    # -- reads (callers hold store.lock) ------------------------------------------------------------

    def wait_fresh(self, requested: int) -> None:
        store = self.store
        if not store.lock.wait_for(lambda: store.rv >= requested, timeout=self.fresh_wait):
            raise too_large_resource_version(requested, store.rv)

    def cache_rv(self) -> int:
        return max(self.store.compacted_rv, self.store.rv - self.cache_lag)

    def get(
        self, resource: r.ResourceType, namespace: str, name: str, resource_version: str | None
    ) -> JsonObject:
        stored: JsonObject | None
        if resource_version in (None, ""):
            stored = self.store.get(resource.storage, namespace, name)
        else:
            requested = parse_resource_version(resource_version)
            if requested == 0:
                snapshot = self.store.snapshot(resource.storage, self.cache_rv())
                stored = next((o for o in snapshot if _key(o) == (namespace, name)), None)
            else:
                self.wait_fresh(requested)
                stored = self.store.get(resource.storage, namespace, name)
        if stored is None:
            raise not_found(resource.group, resource.plural, name)
        return views.render(resource, stored)

    # -- writes (each takes store.lock for its whole read-check-write) ------------------------------

    def create(
        self, resource: r.ResourceType, namespace: str | None, body: Any, dry_run: bool = False
    ) -> JsonObject:
        with self.store.lock:
            obj = self._decode(resource, body)
            meta = obj["metadata"]
            self._place(resource, meta, namespace)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = defaults.generated_name(meta["generateName"])
            if meta.pop("resourceVersion", None):
                raise unconverted("resourceVersion should not be set on objects to be created")
            self._check_namespace_open(resource, meta)
            if not meta.get("name"):
                error = FieldError("Required", "metadata.name", detail="name or generateName is required")
                raise invalid(resource.kind, resource.group, "", [error])
            obj = self._admit(resource, "CREATE", obj, None, dry_run)
            meta = obj["metadata"]
            strategies.prepare_create(resource, obj)
            validation.raise_invalid(resource, meta["name"], strategies.create_errors(resource, obj))
            if self.store.get(resource.storage, meta.get("namespace", ""), meta["name"]) is not None:
                raise already_exists(resource.group, resource.plural, meta["name"])
            if dry_run:
                return views.render(resource, obj)
            return views.render(resource, self.store.write(resource.storage, ADDED, obj, None))

    def update(
        self,
        resource: r.ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> tuple[JsonObject, int]:
        with self.store.lock:
            obj = self._decode(resource, body)
            meta = obj["metadata"]
            if meta.get("name", "") != name:
                raise bad_request(
                    f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({name})"
                )
            self._place(resource, meta, namespace)
            old = self.store.get(resource.storage, meta.get("namespace", ""), name)
            if old is None:
                if resource.create_on_update and subresource is None:
                    # The update path prepares the object for storage, which drops any resourceVersion.
                    fresh = {**body, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
                    return self.create(resource, namespace, fresh, dry_run), 201
                raise not_found(resource.group, resource.plural, name)
            self._check_precondition(resource, meta, old)
            return self._replace(resource, obj, old, subresource, dry_run), 200

    def patch(
        self,
        resource: r.ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        raw: bytes,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> JsonObject:
        with self.store.lock:
            old = self.store.get(resource.storage, namespace or "", name)
            if old is None:
                raise not_found(resource.group, resource.plural, name)
            current = views.render(resource, old)
            schema = strategic.Schema(
                None if resource.pod_template is None else (*resource.pod_template, "spec")
            )
            patched = patching.apply_patch(content_type, current, raw, schema)
            if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
                raise invalid("", "", "", [FieldError("Invalid", "patch", str(patched), "not an object")])
            meta = patched["metadata"]
            if meta.get("name") != name:
                raise bad_request(
                    f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({name})"
                )
            self._place(resource, meta, namespace)
            meta.setdefault("resourceVersion", old["metadata"]["resourceVersion"])
            self._check_precondition(resource, meta, old)
            return self._replace(resource, self._decode(resource, patched), old, subresource, dry_run)

    # -- shared steps --------------------------------------------------------------------------------

    def _admit(
        self, resource: r.ResourceType, operation: str, obj: JsonObject, old: JsonObject | None, dry_run: bool
    ) -> JsonObject:
        if not self.admission.webhooks:
            return obj
        admitted = self.admission.admit(resource, operation, obj, old, self.user, dry_run)
        return obj if admitted is obj else self._decode(resource, admitted)

    def _decode(self, resource: r.ResourceType, body: Any) -> JsonObject:
        if not isinstance(body, dict):
            raise bad_request(f"json: cannot unmarshal array into Go value of type {resource.go_type[1:]}")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if (kind and kind != resource.kind) or (api_version and api_version != resource.api_version):
            raise bad_request(
                f'{kind or resource.kind} in version "{api_version or resource.api_version}" cannot be handled '
                f"as a {resource.kind}: the object provided is unrecognized (must be of type {resource.kind})"
            )
        obj = views.to_storage(resource, body)
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        times.check_and_normalize_times(r.EVENTS if resource.storage == "events" else resource, obj)
        defaults.apply_defaults(resource, obj)
        return obj

    @staticmethod
    def _place(resource: r.ResourceType, meta: JsonObject, namespace: str | None) -> None:
        if not resource.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace

    def _check_namespace_open(self, resource: r.ResourceType, meta: JsonObject) -> None:
        if not resource.namespaced:
            return
        namespace = self.store.get(r.NAMESPACES.storage, "", meta["namespace"])
        if namespace is None:
            raise not_found("", "namespaces", meta["namespace"])
        if namespace["metadata"].get("deletionTimestamp"):
            message = (
                f'{resource.qualified} "{meta.get("name", "")}" is forbidden: unable to create new content in '
                f"namespace {meta['namespace']} because it is being terminated"
            )
            cause = {
                "reason": "NamespaceTerminating",
                "message": f"namespace {meta['namespace']} is being terminated",
                "field": "metadata.namespace",
            }
            details = {
                "name": meta.get("name", ""),
                "group": resource.group,
                "kind": resource.plural,
                "causes": [cause],
            }
            raise ApiError(403, "Forbidden", message, {k: v for k, v in details.items() if v})

    @staticmethod
    def _check_precondition(resource: r.ResourceType, meta: JsonObject, old: JsonObject) -> None:
        given = meta.get("resourceVersion")
        if given:
            if given != old["metadata"]["resourceVersion"]:
                raise conflict(resource.group, resource.plural, old["metadata"]["name"])
        elif not resource.unconditional_update:
            error = FieldError(
                "Invalid", "metadata.resourceVersion", GoLiteral("0x0"), "must be specified for an update"
            )
            raise invalid(resource.plural, resource.group, old["metadata"]["name"], [error])

    def _replace(
        self,
        resource: r.ResourceType,
        obj: JsonObject,
        old: JsonObject,
        subresource: str | None,
        dry_run: bool,
    ) -> JsonObject:
        if subresource is None:
            obj = self._admit(resource, "UPDATE", obj, old, dry_run)
        strategies.prepare_update(resource, obj, old, subresource)
        validation.raise_invalid(
            resource, obj["metadata"]["name"], strategies.update_errors(resource, obj, old)
        )
        obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if obj == old or dry_run:
            return views.render(resource, obj)  # nothing changed: no write, no event, same resourceVersion
        stored = self.store.write(resource.storage, MODIFIED, obj, old)
        if stored["metadata"].get("deletionTimestamp") and not stored["metadata"].get("finalizers"):
            self.store.write(resource.storage, DELETED, copy.deepcopy(obj), obj)  # the last finalizer went
        return views.render(resource, stored)


def parse_resource_version(value: str) -> int:
    """An unparsable resourceVersion reaches the apiserver's storage and comes back as a 500."""
    try:
        parsed = int(value)
        if parsed < 0:
            raise ValueError
    except ValueError:
        message = (
            f'resourceVersion: Invalid value: "{value}": strconv.ParseUint: parsing "{value}": invalid syntax'
        )
        raise unconverted(message) from None
    return parsed


def _key(obj: JsonObject) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
