"""Day 2, decided purely: an object's state against the current templates, uninject, and the
workload-mode upgrade patch.

- ``pod_states(pod, ...)``: for one Pod (its ``PodMetadata``), each template it runs or asks for and
  its state: ``current``, ``outdated`` (another revision runs), ``missing-injection`` (opted in, by
  any signal the server honours, ``core/optin.py``, the namespace's included; not injected: created
  while the webhook was down, or skipped) or ``template-gone``.
- ``workload_states(workload, pods, ...)``: the same for a workload and the Pods it owns, each
  template's state being the worst of its units (the workload's own pod template and every Pod).
- ``uninject(obj, kind, policy)``: the object without what the injector added (all templates, or
  only some), from the status annotation.
- ``upgrade(obj, facts, templates, policy, names)``: the one patch that brings a workload-mode
  injection to the current revisions; by definition inject(new) applied to uninject(old), written
  as a patch that replaces only what differs, guarded by the object's resourceVersion.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from webhook.core.engine import mutate
from webhook.core.errors import InvalidObject
from webhook.core.jsontypes import JsonObject, PatchOp
from webhook.core.model import (
    AdmissionFacts,
    InjectionMode,
    InjectionPolicy,
    NamespaceMetadata,
    Template,
    TemplateSet,
)
from webhook.core.optin import annotations_of, decide
from webhook.core.patching import pointer
from webhook.core.selection import read_status
from webhook.core.status import Added, InjectionStatus, render_status
from webhook.core.uninjection import drop_created, infer_added, remove_added, restore_copied
from webhook.core.workloads import locate_pod_template

State = Literal["current", "outdated", "missing-injection", "template-gone"]
STATES: tuple[State, ...] = ("current", "outdated", "missing-injection", "template-gone")
"""In rising severity: a workload's state for a template is the worst of its units'."""
NEEDS_ROLLOUT: frozenset[State] = frozenset({"outdated", "missing-injection"})


def opted_in(
    obj: JsonObject, kind: str, namespace: NamespaceMetadata | None, policy: InjectionPolicy
) -> tuple[str, ...]:
    """The templates ``obj`` opted in to, as the server decides it (core/optin.py, every signal and
    its precedence); none for an object whose opt-in the server would refuse."""
    try:
        return decide(obj, kind, namespace, policy).templates
    except InvalidObject:
        return ()


@dataclass(frozen=True, slots=True)
class PodMetadata:
    """What the lifecycle reads of a Pod: the injector's annotations and labels (the opt-in, the
    status), as a metadata-only watch or list projects them."""

    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def as_object(self) -> JsonObject:
        return {"metadata": {"annotations": dict(self.annotations), "labels": dict(self.labels)}}


@dataclass(frozen=True, slots=True)
class TemplateState:
    template: str
    state: State
    running: tuple[str, ...] = ()
    """The revisions found injected (sorted); empty when none is."""
    current: str | None = None
    """The revision served now; None when the template is gone."""
    mode: InjectionMode | None = None
    pods: Mapping[State, int] = field(default_factory=dict)
    """Pods per state (workloads only)."""


def pod_states(
    pod: PodMetadata,
    namespace: str,
    namespace_metadata: NamespaceMetadata | None,
    templates: TemplateSet,
    policy: InjectionPolicy,
) -> tuple[TemplateState, ...]:
    """Each template a Pod runs or asks for, with its state (see the module docstring);
    ``namespace_metadata`` None: unknown, no namespace opt-in counts (as in the server)."""
    status, _ = read_status(dict(pod.annotations), policy)
    recorded = status.revisions
    asked = opted_in(pod.as_object(), "Pod", namespace_metadata, policy)
    states = []
    for name in dict.fromkeys([*recorded, *asked]):
        state = _unit_state(templates.resolve(name, namespace), recorded.get(name))
        if state is not None:
            states.append(_describe(name, state, recorded.get(name), templates, namespace, policy))
    return tuple(states)


def workload_states(
    workload: JsonObject,
    pods: Iterable[PodMetadata],
    namespace_metadata: NamespaceMetadata | None,
    templates: TemplateSet,
    policy: InjectionPolicy,
) -> tuple[TemplateState, ...]:
    """Each template a workload (its pod template and the Pods it owns) runs or asks for, with the
    worst state of its units and the Pods per state."""
    kind = str(workload.get("kind"))
    namespace = str((workload.get("metadata") or {}).get("namespace") or "")
    pod_template = _pod_template(workload, kind)
    asked = opted_in(workload, kind, namespace_metadata, policy) if pod_template else ()
    own, _ = read_status(annotations_of(pod_template), policy)
    pod_records = [read_status(dict(p.annotations), policy)[0].revisions for p in pods]
    names = dict.fromkeys([*own.revisions, *asked, *(n for r in pod_records for n in r)])
    states = []
    for name in names:
        template = templates.resolve(name, namespace)
        units = _spec_unit(template, name, own, policy) + [
            _unit_state(template, record.get(name)) for record in pod_records
        ]
        found = [u for u in units if u is not None]
        if not found and template is None:
            continue  # asked for a template that never existed: not a drift, the admission warned
        worst: State = max(found, key=STATES.index) if found else "current"
        running = {r for r in ([own.revisions.get(name)] + [p.get(name) for p in pod_records]) if r}
        described = _describe(name, worst, None, templates, namespace, policy)
        per_pod = [u for u in units[len(units) - len(pod_records) :] if u is not None]
        counts = {state: per_pod.count(state) for state in STATES if state in per_pod}
        states.append(replace(described, running=tuple(sorted(running)), pods=counts))
    return tuple(states)


def _spec_unit(
    template: Template | None, name: str, own: InjectionStatus, policy: InjectionPolicy
) -> list[State | None]:
    """The workload's own pod template as a unit: where workload injection lands, and where a
    template now in pod injection must no longer be."""
    recorded = own.revisions.get(name)
    if template is not None and policy.mode_of(template) == "pod":
        return ["outdated"] if recorded is not None else []
    return [_unit_state(template, recorded)]


def _unit_state(template: Template | None, recorded: str | None) -> State | None:
    if template is None:
        return "template-gone" if recorded is not None else None
    if recorded is None:
        return "missing-injection"
    return "current" if recorded == template.revision else "outdated"


def _describe(
    name: str,
    state: State,
    recorded: str | None,
    templates: TemplateSet,
    namespace: str,
    policy: InjectionPolicy,
) -> TemplateState:
    template = templates.resolve(name, namespace)
    mode = policy.mode_of(template) if template is not None else None
    current = template.revision if template is not None else None
    return TemplateState(name, state, (recorded,) if recorded else (), current, mode)


# -- uninject ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Uninjected:
    obj: Any
    removed: tuple[str, ...] = ()
    inferred: tuple[str, ...] = ()
    """Removed although the status did not record what they added: inferred from the current
    template of the same revision (an identical item the workload wrote would be taken too)."""
    unknown: tuple[str, ...] = ()
    """Left in place: the status does not say what they added and their revision is not served."""
    warnings: tuple[str, ...] = ()


def uninject(
    obj: Any,
    kind: str,
    policy: InjectionPolicy,
    *,
    names: Iterable[str] | None = None,
    templates: TemplateSet | None = None,
) -> Uninjected:
    """``obj`` (not changed) without what the injector added: every template, or ``names`` only."""
    root = locate_pod_template(kind)
    found = _pod_template(obj, kind) if root is not None else None
    if found is None:
        return Uninjected(obj)
    status, warnings = read_status(annotations_of(found), policy)
    if warnings or policy.status_annotation not in annotations_of(found):
        return Uninjected(obj, warnings=warnings)  # never injected, or nothing can be known
    result = copy.deepcopy(obj)
    pod_template = _pod_template(result, kind)
    wanted = set(names) if names is not None else set(status.revisions)
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    removed, inferred, unknown = [], [], []
    for entry in status.entries:
        if entry.name not in wanted:
            continue
        added = entry.added or _inferable(pod_template, entry.name, entry.revision, templates, namespace)
        if added is None:
            unknown.append(entry.name)
            continue
        remove_added(pod_template, added)
        removed.append(entry.name)
        if entry.added is None:
            inferred.append(entry.name)
    if not removed and not (names is None and status.copied and not status.entries):
        return Uninjected(obj, unknown=tuple(unknown))
    _rewrite_status(pod_template, status.without(frozenset(removed)), policy, everything=names is None)
    return Uninjected(result, tuple(removed), tuple(inferred), tuple(unknown))


def _inferable(
    pod_template: JsonObject, name: str, revision: str, templates: TemplateSet | None, namespace: str
) -> Added | None:
    template = templates.resolve(name, namespace) if templates is not None else None
    if template is None or template.revision != revision:
        return None
    return infer_added(pod_template, template)


def _rewrite_status(
    pod_template: JsonObject, remaining: InjectionStatus, policy: InjectionPolicy, *, everything: bool
) -> None:
    """The status annotation without the removed entries; gone, with the copied opt-in given back,
    when nothing the injector wrote is left."""
    annotations = pod_template["metadata"]["annotations"]
    if not remaining.entries and (everything or not remaining.copied):
        restore_copied(pod_template, remaining.copied)
        annotations.pop(policy.status_annotation, None)
        drop_created(pod_template, remaining)
        return
    standing = drop_created(pod_template, remaining)
    kept = replace(
        remaining, created=standing, was_null=tuple(p for p in remaining.was_null if p in standing)
    )
    annotations[policy.status_annotation] = render_status(kept).text


def _pod_template(obj: Any, kind: str) -> JsonObject:
    node = obj
    for token in locate_pod_template(kind) or ():
        node = node.get(token) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


# -- upgrade -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upgrade:
    patch: tuple[PatchOp, ...]
    """Empty when nothing changes."""
    upgraded: Any
    unknown: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def upgrade(
    obj: JsonObject,
    facts: AdmissionFacts,
    templates: TemplateSet,
    policy: InjectionPolicy,
    names: Iterable[str],
) -> Upgrade:
    """The patch that replaces what ``names`` added with what the current templates add (raises
    InjectionError as mutate() does when the current template cannot be applied)."""
    wanted = tuple(names)
    stripped = uninject(obj, facts.kind, policy, names=wanted, templates=templates)
    only = TemplateSet({k: t for k, t in templates.templates.items() if t.name in wanted})
    lenient = replace(policy, deny_missing_templates=False)
    result = mutate(stripped.obj, replace(facts, operation="UPDATE"), only, lenient)
    upgraded = result.patched if result.patched is not None else stripped.obj
    root = locate_pod_template(facts.kind) or ()
    return Upgrade(pod_template_patch(obj, upgraded, root), upgraded, stripped.unknown, result.warnings)


def pod_template_patch(old: JsonObject, new: JsonObject, root: tuple[str, ...]) -> tuple[PatchOp, ...]:
    """JSON patch ops turning ``old``'s pod template into ``new``'s: each differing field of its
    metadata and spec replaced whole (annotations and labels key by key), after a test of the
    resourceVersion, so that a concurrent change fails the patch instead of being overwritten."""
    old_template, new_template = _node(old, root) or {}, _node(new, root) or {}
    ops: list[PatchOp] = []
    for part, by_key in (("metadata", ("annotations", "labels")), ("spec", ())):
        before, after = old_template.get(part), new_template.get(part)
        if not isinstance(before, dict) or not isinstance(after, dict):
            ops += _change((*root, part), _get(old_template, part), _get(new_template, part))
            continue
        for key in dict.fromkeys([*before, *after]):
            inner_before, inner_after = before.get(key), after.get(key)
            if key in by_key and isinstance(inner_before, dict) and isinstance(inner_after, dict):
                for entry in dict.fromkeys([*inner_before, *inner_after]):
                    tokens = (*root, part, key, entry)
                    ops += _change(tokens, _get(inner_before, entry), _get(inner_after, entry))
            else:
                ops += _change((*root, part, key), _get(before, key), _get(after, key))
    if not ops:
        return ()
    version = (old.get("metadata") or {}).get("resourceVersion")
    guard: list[PatchOp] = [{"op": "test", "path": "/metadata/resourceVersion", "value": version}]
    return tuple((guard if version else []) + ops)


_ABSENT = object()


def _get(node: JsonObject, key: str) -> Any:
    return node.get(key, _ABSENT)


def _change(tokens: tuple[str, ...], before: Any, after: Any) -> list[PatchOp]:
    path = pointer(tokens)
    if before is _ABSENT:
        return [] if after is _ABSENT else [{"op": "add", "path": path, "value": after}]
    if after is _ABSENT:
        return [{"op": "remove", "path": path}]
    return [] if before == after else [{"op": "replace", "path": path, "value": after}]


def _node(obj: Any, tokens: tuple[str, ...]) -> JsonObject | None:
    for token in tokens:
        obj = obj.get(token) if isinstance(obj, dict) else None
    return obj if isinstance(obj, dict) else None
