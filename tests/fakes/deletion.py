"""DELETE, with what kube-apiserver and its controllers do around it.

- preconditions (``uid``, ``resourceVersion`` in DeleteOptions) that do not hold are a 409 Conflict;
- an object with finalizers (or deleted with ``propagationPolicy=Foreground``) only gets a
  ``deletionTimestamp`` and stays until an update removes its last finalizer;
- the answer is the deleted object for Pods and Namespaces and a ``Status`` of ``Success`` naming the
  object (``details.kind`` is the plural) for the others;
- the garbage collector deletes dependents (``ownerReferences``) after their owner (``Background``,
  the default for apps/v1 workloads), removes the reference instead for ``Orphan`` (the default for
  batch/v1 Jobs), and deletes them first for ``Foreground``;
- deleting a Namespace makes it ``Terminating`` (a create in it is then a 403) and the namespace
  controller removes its content and then the Namespace itself ``namespace_finalize_delay`` seconds
  later.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from tests.fakes import resources as r
from tests.fakes import strategies, views
from tests.fakes.rest import Rest
from tests.fakes.status import conflict, not_found
from tests.fakes.storage import DELETED, MODIFIED, Store

JsonObject = dict[str, Any]
_ORPHAN_BY_DEFAULT = (r.JOBS,)


class Deleter:
    def __init__(self, store: Store, rest: Rest) -> None:
        self.store = store
        self.rest = rest
        self.namespace_finalize_delay = 0.1
        self._timers: list[threading.Timer] = []

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()

    def delete(
        self,
        resource: r.ResourceType,
        namespace: str | None,
        name: str,
        options: JsonObject,
        dry_run: bool = False,
    ) -> JsonObject:
        with self.store.lock:
            old = self.store.get(resource.storage, namespace or "", name)
            if old is None:
                raise not_found(resource.group, resource.plural, name)
            self._check_preconditions(resource, old, options.get("preconditions") or {})
            if resource is r.NAMESPACES:
                return self._terminate_namespace(old, dry_run)
            policy = options.get("propagationPolicy") or (
                "Orphan" if resource in _ORPHAN_BY_DEFAULT else "Background"
            )
            if options.get("orphanDependents") is True:
                policy = "Orphan"
            if old["metadata"].get("finalizers") or policy == "Foreground":
                return self._mark_deleting(resource, old, policy, dry_run)
            if dry_run:
                return self._answer(resource, old)
            gone = self.store.write(resource.storage, DELETED, copy.deepcopy(old), old)
            self._collect_dependents(old, policy)
            return self._answer(resource, gone)

    def delete_collection(
        self, resource: r.ResourceType, matching: list[JsonObject], options: JsonObject, dry_run: bool
    ) -> JsonObject:
        with self.store.lock:
            deleted = []
            for obj in matching:
                meta = obj["metadata"]
                if self.store.get(resource.storage, meta.get("namespace", ""), meta["name"]) is None:
                    continue
                self.delete(resource, meta.get("namespace"), meta["name"], options, dry_run)
                deleted.append(views.list_item(resource, obj))
            return {
                "kind": resource.list_kind,
                "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": deleted,
            }

    @staticmethod
    def _check_preconditions(resource: r.ResourceType, old: JsonObject, preconditions: JsonObject) -> None:
        meta = old["metadata"]
        for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = preconditions.get(key)
            if wanted and wanted != meta.get(key):
                cause = f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {meta.get(key)}"
                raise conflict(resource.group, resource.plural, meta["name"], cause)

    def _answer(self, resource: r.ResourceType, deleted: JsonObject) -> JsonObject:
        if resource.returns_deleted_object:
            return views.render(resource, deleted)
        meta = deleted["metadata"]
        details = {
            "name": meta["name"],
            "group": resource.group,
            "kind": resource.plural,
            "uid": meta.get("uid"),
        }
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {k: v for k, v in details.items() if v},
        }

    def _mark_deleting(
        self, resource: r.ResourceType, old: JsonObject, policy: str, dry_run: bool
    ) -> JsonObject:
        obj = copy.deepcopy(old)
        meta = obj["metadata"]
        meta.setdefault("deletionTimestamp", strategies.now())
        meta.setdefault("deletionGracePeriodSeconds", 0)
        if policy == "Foreground" and "foregroundDeletion" not in meta.setdefault("finalizers", []):
            meta["finalizers"].append("foregroundDeletion")
        if dry_run or obj == old:
            return views.render(resource, obj)
        stored = self.store.write(resource.storage, MODIFIED, obj, old)
        if policy == "Foreground":
            self._collect_dependents(old, "Background")
            done = copy.deepcopy(stored)
            done["metadata"]["finalizers"] = [f for f in meta["finalizers"] if f != "foregroundDeletion"]
            if not done["metadata"]["finalizers"]:
                del done["metadata"]["finalizers"]
            current = self.store.get(resource.storage, meta.get("namespace", ""), meta["name"])
            stored = self.store.write(resource.storage, MODIFIED, done, current)
            if "finalizers" not in done["metadata"]:
                self.store.write(resource.storage, DELETED, copy.deepcopy(done), done)
        return views.render(resource, stored)

    def _collect_dependents(self, owner: JsonObject, policy: str) -> None:
        uid = owner["metadata"].get("uid")
        for resource in r.ALL:
            if resource.shared_storage:
                continue
            for obj in list(self.store.items(resource.storage)):
                references = obj["metadata"].get("ownerReferences") or []
                if not any(ref.get("uid") == uid for ref in references):
                    continue
                meta = obj["metadata"]
                if policy == "Orphan":
                    kept = copy.deepcopy(obj)
                    kept["metadata"]["ownerReferences"] = [ref for ref in references if ref.get("uid") != uid]
                    if not kept["metadata"]["ownerReferences"]:
                        del kept["metadata"]["ownerReferences"]
                    self.store.write(resource.storage, MODIFIED, kept, obj)
                else:
                    self.delete(
                        resource, meta.get("namespace"), meta["name"], {"propagationPolicy": "Background"}
                    )

    # -- namespaces ----------------------------------------------------------------------------------

    def _terminate_namespace(self, old: JsonObject, dry_run: bool) -> JsonObject:
        if old["metadata"].get("deletionTimestamp"):
            return views.render(r.NAMESPACES, old)
        obj = copy.deepcopy(old)
        obj["metadata"]["deletionTimestamp"] = strategies.now()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        obj["status"] = {"phase": "Terminating"}
        if dry_run:
            return views.render(r.NAMESPACES, obj)
        stored = self.store.write(r.NAMESPACES.storage, MODIFIED, obj, old)
        timer = threading.Timer(
            self.namespace_finalize_delay, self.finalize_namespace, args=(obj["metadata"]["name"],)
        )
        timer.daemon = True
        self._timers.append(timer)
        timer.start()
        return views.render(r.NAMESPACES, stored)

    def finalize_namespace(self, name: str) -> None:
        """What the namespace controller does: delete the namespace's content, then the namespace."""
        with self.store.lock:
            for storage in list(self.store.objects):
                for obj in list(self.store.items(storage)):
                    if obj["metadata"].get("namespace") == name:
                        self.store.write(storage, DELETED, copy.deepcopy(obj), obj)
            namespace = self.store.get(r.NAMESPACES.storage, "", name)
            if namespace is not None:
                self.store.write(r.NAMESPACES.storage, DELETED, copy.deepcopy(namespace), namespace)
