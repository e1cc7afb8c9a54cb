"""Which objects an exported policy mutates: the resources and operations, and the matchConditions
that reproduce ``core.optin.decide`` for one template and ``core.selection``'s skips.

The precedence table is read from ``core.optin.PRECEDENCE`` (the order of its rows), so the policy
asks the sources in the order the engine does; only the reading of one source is written in CEL.
Strings are compared as RE2 patterns where the engine strips and lower-cases: ``\\s`` is ASCII
whitespace, where Python's ``strip()`` also removes other Unicode spaces.
"""

from __future__ import annotations

import re
from typing import Any

from webhook.convert import cel
from webhook.core import InjectionPolicy
from webhook.core.model import LEGACY_ANNOTATION_PREFIX, Template
from webhook.core.optin import OBJECT_SOURCES, PRECEDENCE, Source
from webhook.core.workloads import IMMUTABLE_POD_TEMPLATE_ON_UPDATE, POD_TEMPLATE_TOKENS

POD_TEMPLATE = (
    'dyn(object.kind == "Pod" ? object : object.kind == "CronJob" ? '
    "object.spec.jobTemplate.spec.template : object.spec.template)"
)
"""The pod template (metadata and spec) of every supported kind, as ``core.workloads`` locates it."""
POD_TEMPLATE_PATH = (
    '(object.kind == "Pod" ? "" : object.kind == "CronJob" ? "/spec/jobTemplate/spec/template" : '
    '"/spec/template")'
)
_RESOURCES = {
    "Pod": ("", "pods"),
    "ReplicationController": ("", "replicationcontrollers"),
    "Deployment": ("apps", "deployments"),
    "ReplicaSet": ("apps", "replicasets"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
}
OPT_OUT = r"^\s*(?i:false|none)?\s*$"
_TRUE = r"^\s*(?i:true)\s*$"
# Kinds whose pods are left to their controller: core.workloads' _OWNER_KINDS_THAT_MANAGE.
_MANAGED = {"ReplicaSet": "Deployment", "Job": "CronJob"}


def resource_rules() -> list[dict[str, Any]]:
    """CREATE of every kind with a pod template; UPDATE of those whose pod template may change.
    Subresources (status, scale, ephemeralcontainers) are not listed, so never matched."""
    assert set(_RESOURCES) == set(POD_TEMPLATE_TOKENS)
    rules = []
    for operations, kinds in (
        (["CREATE"], sorted(IMMUTABLE_POD_TEMPLATE_ON_UPDATE)),
        (["CREATE", "UPDATE"], sorted(set(_RESOURCES) - set(IMMUTABLE_POD_TEMPLATE_ON_UPDATE))),
    ):
        groups = sorted({_RESOURCES[kind][0] for kind in kinds})
        for group in groups:
            resources = sorted(_RESOURCES[k][1] for k in kinds if _RESOURCES[k][0] == group)
            rules.append(
                {
                    "apiGroups": [group],
                    "apiVersions": ["v1"],
                    "operations": operations,
                    "resources": resources,
                }
            )
    return rules


def match_conditions(template: Template, policy: InjectionPolicy) -> list[dict[str, str]]:
    """Workload injection: every kind as the engine injects it. Pod injection: a Pod as the engine
    injects it; a workload whose own metadata decides for the template (``core.placement``), when its
    pod template's inject annotation does not list the template yet."""
    names = [c["name"] for c in (*template.init_containers, *template.containers)]
    opted, injected = opted_in(template.name, policy), _not_injected(template.name, policy)
    if policy.mode_of(template) == "pod":
        on_object = opted_in(template.name, policy, OBJECT_SOURCES)
        opted = cel.conditional('object.kind == "Pod"', opted, on_object)
        injected = cel.conditional('object.kind == "Pod"', injected, _not_copied(template.name, policy))
    return [
        {"name": "opted-in", "expression": opted},
        {"name": "not-being-deleted", "expression": "!has(object.metadata.deletionTimestamp)"},
        {"name": "not-managed-by-its-owner", "expression": _not_managed()},
        {"name": "not-injected-before", "expression": injected},
        {"name": "container-names-free", "expression": _names_free(names)},
    ]


def opted_in(name: str, policy: InjectionPolicy, sources: frozenset[Source] | None = None) -> str:
    """The deciding source (the highest that carries a signal) asks for ``name``; with ``sources``,
    only a decision of one of those counts."""
    answer = "false"
    for row in reversed(PRECEDENCE):
        located = _source(row.source, policy)
        if located is None:
            continue
        present, asks = _signal(row.source, located, name, policy)
        counted = asks if sources is None or row.source in sources else "false"
        answer = cel.conditional(present, counted, answer)
    return answer


def _not_copied(name: str, policy: InjectionPolicy) -> str:
    """The pod template's inject annotation does not ask for ``name`` yet (pod injection's copy)."""
    annotations = f"{POD_TEMPLATE}.metadata.annotations"
    key = cel.string(policy.inject_annotation)
    listed = cel.all_of(
        [
            f"has({POD_TEMPLATE}.metadata)",
            f"has({annotations})",
            f"{key} in {annotations}",
            f"!{annotations}[{key}].matches({cel.string(OPT_OUT)})",
            f"{annotations}[{key}].matches({cel.string(_listed(name))})",
        ]
    )
    return f"!({listed})"


def _source(source: Source, policy: InjectionPolicy) -> tuple[str, str] | None:
    """(a guard that the metadata exists, the metadata) of a source; None when it never counts."""
    if source in (Source.OBJECT_ANNOTATION, Source.OBJECT_LABEL):
        return "true", "object.metadata"
    if source in (Source.POD_TEMPLATE_ANNOTATION, Source.POD_TEMPLATE_LABEL):
        return f'object.kind != "Pod" && has({POD_TEMPLATE}.metadata)', f"{POD_TEMPLATE}.metadata"
    if not policy.namespace_opt_in:
        return None
    return "namespaceObject != null", "namespaceObject.metadata"


def _signal(source: Source, located: tuple[str, str], name: str, policy: InjectionPolicy) -> tuple[str, str]:
    """(the source carries a signal, that signal asks for ``name``)."""
    guard, metadata = located
    key = cel.string(policy.inject_annotation)
    if source in (Source.OBJECT_LABEL, Source.POD_TEMPLATE_LABEL, Source.NAMESPACE_LABEL):
        labels = f"{metadata}.labels"
        present = cel.all_of([guard, f"has({labels})", f"{key} in {labels}"])
        asks = f"{labels}[{key}].matches({cel.string(_one(name))})"
        return present, asks
    annotations = f"{metadata}.annotations"
    listed = cel.all_of([f"{key} in {annotations}", f"!{annotations}[{key}].matches({cel.string(OPT_OUT)})"])
    asks_listed = f"{listed} && {annotations}[{key}].matches({cel.string(_listed(name))})"
    present_parts, asks_parts = [f"{key} in {annotations}"], [asks_listed]
    if policy.legacy_annotations and source is not Source.NAMESPACE_ANNOTATION:
        prefix, legacy = cel.string(LEGACY_ANNOTATION_PREFIX), cel.string(LEGACY_ANNOTATION_PREFIX + name)
        present_parts.append(
            f"{annotations}.exists(k, k.startsWith({prefix}) && size(k) > {len(LEGACY_ANNOTATION_PREFIX)}"
            f" && {annotations}[k].matches({cel.string(_TRUE)}))"
        )
        asks_parts.append(
            f"{legacy} in {annotations} && {annotations}[{legacy}].matches({cel.string(_TRUE)})"
        )
    present = cel.all_of([guard, f"has({annotations})", cel.any_of(present_parts)])
    return present, cel.any_of(asks_parts)


def _one(name: str) -> str:
    return rf"^\s*{re.escape(name)}\s*$"


def _listed(name: str) -> str:
    return rf"(^|,)\s*{re.escape(name)}\s*(,|$)"


def _not_managed() -> str:
    owned = [
        f"object.kind == {cel.string(kind)} && has(object.metadata.ownerReferences) && "
        f"object.metadata.ownerReferences.exists(r, r.kind == {cel.string(owner)} && "
        "has(r.controller) && r.controller == true)"
        for kind, owner in sorted(_MANAGED.items())
    ]
    return f"!({cel.any_of(owned)})"


def _not_injected(name: str, policy: InjectionPolicy) -> str:
    """The status annotation (``core.selection.render_status``: compact JSON) does not list it."""
    annotations = f"{POD_TEMPLATE}.metadata.annotations"
    status = cel.string(policy.status_annotation)
    entry = cel.string('{"name":' + cel.string(name) + ",")
    listed = cel.all_of(
        [
            f"has({POD_TEMPLATE}.metadata)",
            f"has({annotations})",
            f"{status} in {annotations}",
            f"{annotations}[{status}].contains({entry})",
        ]
    )
    return f"!({listed})"


def _names_free(names: list[str]) -> str:
    """No container or init container of the pod has a name of the template's containers (the engine
    then injects nothing of the template: core.merging.without_container_collisions)."""
    spec, listed = f"{POD_TEMPLATE}.spec", cel.strings(names)
    taken = [
        f"has({spec}.{field}) && {spec}.{field}.exists(c, c.name in {listed})"
        for field in ("containers", "initContainers")
    ]
    return f"!({cel.any_of(taken)})"
