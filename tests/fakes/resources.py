"""The resources the fake serves, how each behaves on write, and the URL shapes that reach them.

One ``ResourceType`` per group/version/resource, with the per-resource rules of its registry
strategy in kube-apiserver (pkg/registry/...): whether ``metadata.generation`` moves and on what,
whether ``status`` is a subresource, whether a PUT may create (Leases, Events) or must carry a
resourceVersion (Leases), what DELETE answers, which field labels a ``fieldSelector`` may use.

Core ``events`` and ``events.k8s.io`` events are one stored resource seen through two versions, as in
the apiserver: ``storage`` names the shared store, and the events.k8s.io view is converted on the way
in and out (see ``events``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

JsonObject = dict[str, Any]
FieldGetter = Callable[[JsonObject], str]


class Generation(enum.Enum):
    NONE = "none"  # metadata.generation is never set (ConfigMaps, Leases, Events, Namespaces)
    SPEC = "spec"  # 1 on create, +1 when spec changes
    SPEC_OR_ANNOTATIONS = "spec+annotations"  # Deployments: annotations are copied to ReplicaSets


def field_path(dotted: str) -> FieldGetter:
    keys = dotted.split(".")

    def get(obj: JsonObject) -> str:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return get


def _fields(*dotted: str, **renamed: str) -> Mapping[str, FieldGetter]:
    getters = {name: field_path(name) for name in dotted}
    getters.update({label: field_path(path) for label, path in renamed.items()})
    return getters


_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_CORE_EVENT_FIELDS = _fields(
    *(f"involvedObject.{k}" for k in _INVOLVED),
    "reason",
    "reportingComponent",
    "type",
    source="source.component",
)
# events.k8s.io names the same selectable fields after its own schema (regarding, reportingController).
_EVENTS_V1_FIELDS = {
    **{f"regarding.{k}": field_path(f"regarding.{k}") for k in _INVOLVED},
    "reason": field_path("reason"),
    "reportingController": field_path("reportingController"),
    "type": field_path("type"),
}


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    go_package: str  # the internal Go package, for messages that name the Go type (core.ConfigMap)
    status_subresource: bool = False
    generation: Generation = Generation.NONE
    create_on_update: bool = False
    unconditional_update: bool = True
    returns_deleted_object: bool = False
    name_is_label: bool = False  # DNS-1123 label instead of subdomain
    pod_template: tuple[str, ...] | None = None  # where the PodSpec's template lives, if any
    extra_fields: Mapping[str, FieldGetter] = field(default_factory=dict)
    shared_storage: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage(self) -> str:
        return self.shared_storage or self.qualified

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def go_type(self) -> str:
        return f"*{self.go_package}.{self.kind}"

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def field_getters(self) -> Mapping[str, FieldGetter]:
        getters: dict[str, FieldGetter] = {"metadata.name": field_path("metadata.name")}
        if self.namespaced:
            getters["metadata.namespace"] = field_path("metadata.namespace")
        return {**getters, **self.extra_fields}

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        scope = f"/namespaces/{namespace}" if namespace and self.namespaced else ""
        tail = f"/{name}" if name else ""
        return f"{self.prefix}{scope}/{self.plural}{tail}"


CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap", True, "core")
NAMESPACES = ResourceType(
    "",
    "v1",
    "namespaces",
    "Namespace",
    False,
    "core",
    status_subresource=True,
    returns_deleted_object=True,
    name_is_label=True,
    extra_fields=_fields("status.phase"),
)
PODS = ResourceType(
    "",
    "v1",
    "pods",
    "Pod",
    True,
    "core",
    status_subresource=True,
    generation=Generation.SPEC,
    returns_deleted_object=True,
    pod_template=(),
    extra_fields=_fields(
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
)
EVENTS = ResourceType(
    "", "v1", "events", "Event", True, "core", create_on_update=True, extra_fields=_CORE_EVENT_FIELDS
)
EVENTS_V1 = ResourceType(
    "events.k8s.io",
    "v1",
    "events",
    "Event",
    True,
    "core",
    create_on_update=True,
    extra_fields=_EVENTS_V1_FIELDS,
    shared_storage="events",
)


def _workload(
    group: str,
    plural: str,
    kind: str,
    *,
    generation: Generation = Generation.SPEC,
    template: tuple[str, ...] = ("spec", "template"),
    extra_fields: Mapping[str, FieldGetter] | None = None,
) -> ResourceType:
    return ResourceType(
        group,
        "v1",
        plural,
        kind,
        True,
        group,
        status_subresource=True,
        generation=generation,
        pod_template=template,
        extra_fields=extra_fields or {},
    )


DEPLOYMENTS = _workload("apps", "deployments", "Deployment", generation=Generation.SPEC_OR_ANNOTATIONS)
REPLICASETS = _workload("apps", "replicasets", "ReplicaSet", extra_fields=_fields("status.replicas"))
STATEFULSETS = _workload("apps", "statefulsets", "StatefulSet")
DAEMONSETS = _workload("apps", "daemonsets", "DaemonSet")
JOBS = _workload("batch", "jobs", "Job", extra_fields=_fields("status.successful"))
CRONJOBS = _workload("batch", "cronjobs", "CronJob", template=("spec", "jobTemplate", "spec", "template"))
LEASES = ResourceType(
    "coordination.k8s.io",
    "v1",
    "leases",
    "Lease",
    True,
    "coordination",
    create_on_update=True,
    unconditional_update=False,
)

ALL: tuple[ResourceType, ...] = (
    CONFIGMAPS,
    NAMESPACES,
    PODS,
    EVENTS,
    EVENTS_V1,
    DEPLOYMENTS,
    REPLICASETS,
    STATEFULSETS,
    DAEMONSETS,
    JOBS,
    CRONJOBS,
    LEASES,
)
_BY_PREFIX = {(r.prefix, r.plural): r for r in ALL}
_BY_KIND = {(r.api_version, r.kind): r for r in ALL}
_BY_PLURAL = {r.plural: r for r in ALL if not r.group} | {r.qualified: r for r in ALL}


def by_kind(api_version: str, kind: str) -> ResourceType:
    return _BY_KIND[(api_version, kind)]


def by_name(name: str) -> ResourceType:
    """``configmaps``, ``deployments.apps``, ``events.events.k8s.io``…, as ``kubectl`` names them."""
    return _BY_PLURAL[name]


@dataclass(frozen=True)
class Target:
    """What a request path addresses."""

    resource: ResourceType
    namespace: str | None  # None: all namespaces, or a cluster-scoped resource
    name: str | None
    subresource: str | None = None


def parse_path(path: str) -> Target | None:
    """The resource a URL path names, or None for a path no resource serves (the router's 404)."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] == ["api", "v1"]:
        prefix, rest = "/api/v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        prefix, rest = f"/apis/{parts[1]}/{parts[2]}", parts[3:]
    else:
        return None
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and (prefix, rest[2]) in _BY_PREFIX:
        namespace, rest = rest[1], rest[2:]
        if not rest or not _BY_PREFIX[(prefix, rest[0])].namespaced:
            return None
    if not rest or (prefix, rest[0]) not in _BY_PREFIX or len(rest) > 3:
        return None
    resource = _BY_PREFIX[(prefix, rest[0])]
    name = rest[1] if len(rest) > 1 else None
    if resource.namespaced and namespace is None and name is not None:
        return None  # a namespaced object has no cluster-wide URL
    subresource = rest[2] if len(rest) > 2 else None
    if name == "" or (subresource is not None and subresource not in subresources(resource)):
        return None
    return Target(resource, namespace, name, subresource)


def subresources(resource: ResourceType) -> frozenset[str]:
    if resource is NAMESPACES:
        return frozenset({"status", "finalize"})
    return frozenset({"status"}) if resource.status_subresource else frozenset()
