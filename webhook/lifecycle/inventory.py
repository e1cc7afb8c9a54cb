"""What runs in the cluster, read once for ``drift`` and ``rollout``: the workloads (their pod templates)
and every Pod (metadata only), each Pod under the workload that controls it.

A Pod's controller is followed up one level where the real controller is above it: a ReplicaSet owned
by a Deployment counts as that Deployment, a Job owned by a CronJob as that CronJob (the injector never
touches those children either). ReplicaSets and Jobs are listed metadata-only, since almost all of them
are such children (a Deployment keeps ten old ReplicaSets); the few that stand alone are read whole.
Pods whose controller is of a kind not listed here (a ReplicationController, an operator's resource)
are grouped under it all the same, without its pod template. Pods without a controller are bare.

With namespace opt-in on (the server's default), the namespaces' labels and annotations are read
too (only the inject key is kept), since a Pod or workload may be opted in by its namespace alone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.core.lifecycle import PodMetadata
from webhook.core.model import LEGACY_ANNOTATION_PREFIX, InjectionPolicy, NamespaceMetadata
from webhook.kube.reflector import JsonObject
from webhook.kube.resources import Resources

NO_METADATA = NamespaceMetadata()

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob")
CHILD_KINDS = {"ReplicaSet": "Deployment", "Job": "CronJob"}
WorkloadKey = tuple[str, str, str]
"""(kind, namespace, name)."""


@dataclass(slots=True)
class Workload:
    kind: str
    namespace: str
    name: str
    obj: JsonObject | None
    """The whole object; None for a controller of a kind not listed (only its Pods are known)."""
    pods: list[PodMetadata] = field(default_factory=list)
    """The injector's annotations and labels of each Pod it controls."""

    @property
    def key(self) -> WorkloadKey:
        return (self.kind, self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class BarePod:
    namespace: str
    name: str
    metadata: PodMetadata


@dataclass(slots=True)
class Inventory:
    workloads: dict[WorkloadKey, Workload] = field(default_factory=dict)
    bare_pods: list[BarePod] = field(default_factory=list)
    namespaces: dict[str, NamespaceMetadata] | None = None
    """The opt-in labels and annotations of the namespaces that carry one; None when namespace
    opt-in is off (then no namespace signal counts)."""

    def namespace_metadata(self, namespace: str) -> NamespaceMetadata | None:
        if self.namespaces is None:
            return None
        return self.namespaces.get(namespace, NO_METADATA)


def take_inventory(resources: Resources, namespace: str | None, policy: InjectionPolicy) -> Inventory:
    """Everything in ``namespace`` (None: all namespaces); raises KubeError."""
    inventory = Inventory(namespaces=_namespaces(resources, namespace, policy))
    for kind in WORKLOAD_KINDS:
        for obj in resources.list_all(kind, namespace):
            workload = Workload(kind, *_where(obj), {"kind": kind, **obj})
            inventory.workloads[workload.key] = workload
    parents = _children(resources, namespace, inventory)
    project = pod_projection(policy)
    for pod in resources.list_all("Pod", namespace, metadata_only=True, transform=project):
        meta = pod["metadata"]
        owner = controller_of(meta)
        if owner is None:
            inventory.bare_pods.append(BarePod(meta["namespace"], meta["name"], pod["injector"]))
            continue
        child = (owner[0], meta["namespace"], owner[1])
        key = parents.get(child, child)
        if key not in inventory.workloads:
            inventory.workloads[key] = Workload(key[0], key[1], key[2], None)
        inventory.workloads[key].pods.append(pod["injector"])
    return inventory


def _namespaces(
    resources: Resources, namespace: str | None, policy: InjectionPolicy
) -> dict[str, NamespaceMetadata] | None:
    """The inject label and annotation of each namespace that has one (``namespace``: that one)."""
    if not policy.namespace_opt_in:
        return None
    key = policy.inject_annotation
    found = {}
    listed = resources.list_namespaces(namespace)
    for obj in listed:
        meta = obj.get("metadata") or {}
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k == key and isinstance(v, str)}
        notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k == key and isinstance(v, str)}
        if labels or notes:
            found[str(meta.get("name"))] = NamespaceMetadata(labels, notes)
    return found


def _children(
    resources: Resources, namespace: str | None, inventory: Inventory
) -> dict[WorkloadKey, WorkloadKey]:
    """ReplicaSet/Job → the Deployment/CronJob above it; children standing alone become workloads."""
    parents: dict[WorkloadKey, WorkloadKey] = {}
    for kind, parent_kind in CHILD_KINDS.items():
        for child in resources.list_all(kind, namespace, metadata_only=True):
            meta = child["metadata"]
            owner = controller_of(meta)
            key = (kind, meta.get("namespace", ""), meta["name"])
            if owner is not None and owner[0] == parent_kind:
                parents[key] = (parent_kind, key[1], owner[1])
            elif owner is None:
                obj = resources.read(kind, key[1], key[2])
                inventory.workloads[key] = Workload(kind, key[1], key[2], {"kind": kind, **obj})
    return parents


def controller_of(metadata: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the object's controller, if it has one."""
    for ref in metadata.get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            return str(ref.get("kind")), str(ref.get("name"))
    return None


def pod_projection(policy: InjectionPolicy) -> Callable[[JsonObject], JsonObject]:
    """What the lifecycle needs of a Pod: where it is, its controller, and the annotations and labels
    the injector reads (the opt-in and the status). Strings that repeat across Pods are interned, so
    ten thousand Pods of a few workloads share them."""
    prefixes = injector_prefixes(policy)

    def project(obj: JsonObject) -> JsonObject:
        meta = obj.get("metadata") or {}
        owner = controller_of(meta)
        refs = (
            [{"kind": sys.intern(owner[0]), "name": sys.intern(owner[1]), "controller": True}]
            if owner
            else []
        )
        namespace = sys.intern(str(meta.get("namespace") or ""))
        annotations = injector_pairs(meta.get("annotations"), prefixes)
        labels = injector_pairs(meta.get("labels"), prefixes)
        return {
            "metadata": {"namespace": namespace, "name": str(meta.get("name")), "ownerReferences": refs},
            "injector": PodMetadata(dict(annotations), dict(labels)),
        }

    return project


def injector_prefixes(policy: InjectionPolicy) -> tuple[str, ...]:
    """The keys the injector reads start with these: its own (the opt-in, the status) and the
    legacy opt-in annotations'."""
    return (f"{policy.annotation_prefix}/", LEGACY_ANNOTATION_PREFIX)


def injector_pairs(entries: object, prefixes: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The (key, value) pairs of a labels or annotations map the injector reads, sorted and interned."""
    if not isinstance(entries, dict):
        return ()
    return tuple(
        sorted(
            (sys.intern(k), sys.intern(v))
            for k, v in entries.items()
            if isinstance(k, str) and k.startswith(prefixes) and isinstance(v, str)
        )
    )


def _where(obj: JsonObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
