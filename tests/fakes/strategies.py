"""Per-resource write rules (the registry "strategies" of kube-apiserver): what the server sets or
resets on create and update, and which validation runs.

- create: uid, creationTimestamp, ``generation: 1`` for resources that track it; ``status`` reset to
  what a new object reports; Namespaces get their ``kubernetes.io/metadata.name`` label and
  finalizer; Jobs a generated selector; DaemonSets the template-generation annotation; Pods what
  the default admission plugins add.
- update: system fields come from the stored object, never the client; the main resource ignores
  ``status`` and the ``/status`` subresource ignores everything else (spec, labels, owners);
  ``generation`` moves on spec changes only (and on annotation changes for Deployments).
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.fakes import defaults, event_validation, validation
from tests.fakes import resources as r
from tests.fakes.status import FieldError

JsonObject = dict[str, Any]
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
_NEW_STATUS: dict[str, JsonObject] = {
    r.REPLICASETS.qualified: {"replicas": 0},
    r.STATEFULSETS.qualified: {"replicas": 0, "availableReplicas": 0},
    r.DAEMONSETS.qualified: {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare_create(resource: r.ResourceType, obj: JsonObject) -> None:
    meta = obj["metadata"]
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        meta.pop(key, None)
    if resource.generation is r.Generation.NONE:
        meta.pop("generation", None)
    else:
        meta["generation"] = 1
    if resource.status_subresource and resource is not r.PODS:
        obj["status"] = copy.deepcopy(_NEW_STATUS.get(resource.qualified, {}))
    if resource is r.NAMESPACES:
        meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": meta["name"]}
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    elif resource is r.PODS:
        defaults.admit_pod(obj)
    elif resource is r.DAEMONSETS:
        meta.setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"
    elif resource is r.JOBS:
        _generate_job_selector(obj)


def _generate_job_selector(job: JsonObject) -> None:
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_meta["labels"] = {
        **(template_meta.get("labels") or {}),
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }


def prepare_update(
    resource: r.ResourceType, new: JsonObject, old: JsonObject, subresource: str | None
) -> None:
    meta, old_meta = new["metadata"], old["metadata"]
    meta.setdefault("uid", old_meta.get("uid"))
    for key in ("creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if subresource == "status":
        _keep(new, old, "spec")
        for key in ("labels", "ownerReferences"):
            _keep(meta, old_meta, key)
        return
    if resource.status_subresource:
        _keep(new, old, "status")
    if resource is r.NAMESPACES:
        meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": meta["name"]}
        _keep(new, old, "spec")
    if resource.generation is not r.Generation.NONE:
        changed = new.get("spec") != old.get("spec")
        if resource.generation is r.Generation.SPEC_OR_ANNOTATIONS:
            changed = changed or meta.get("annotations") != old_meta.get("annotations")
        if changed:
            meta["generation"] = old_meta.get("generation", 0) + 1
    if resource is r.DAEMONSETS:
        generation = int((old_meta.get("annotations") or {}).get(TEMPLATE_GENERATION, "1"))
        if (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            generation += 1
        meta.setdefault("annotations", {})[TEMPLATE_GENERATION] = str(generation)


def _keep(new: JsonObject, old: JsonObject, key: str) -> None:
    if key in old:
        new[key] = copy.deepcopy(old[key])
    else:
        new.pop(key, None)


def create_errors(resource: r.ResourceType, obj: JsonObject) -> list[FieldError]:
    errors = list(validation.metadata_errors(resource, obj["metadata"]))
    errors += _kind_errors(resource, obj)
    if resource.storage == "events":
        errors += event_validation.event_errors(obj, strict=resource is r.EVENTS_V1)
    return errors


def update_errors(resource: r.ResourceType, new: JsonObject, old: JsonObject) -> list[FieldError]:
    errors = list(validation.metadata_errors(resource, new["metadata"]))
    errors += _kind_errors(resource, new)
    errors += validation.update_errors(resource, new, old)
    if resource.storage == "events":
        errors += event_validation.event_update_errors(new, old, strict=resource is r.EVENTS_V1)
    return errors


def _kind_errors(resource: r.ResourceType, obj: JsonObject) -> list[FieldError]:
    if resource is r.LEASES:
        return list(validation.lease_errors(obj))
    if resource is r.PODS:
        return list(validation.pod_spec_errors(obj.get("spec") or {}, "spec"))
    if resource.pod_template is not None:
        return list(validation.workload_errors(resource, obj))
    return []
