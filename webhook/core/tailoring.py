"""The templates an object asked for, tailored to it: variables rendered, its overrides applied, and
the app containers each template's env and mounts go to (``target-containers``).

In ``mutate()``: resolve the names, tailor, drop templates whose containers collide, check Pod
Security, merge. A template without variables costs one attribute read here; without the overrides
and target-containers annotations, one dict lookup each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.core.errors import InvalidObject, VariableUnresolved
from webhook.core.jsontypes import JsonObject
from webhook.core.model import AdmissionFacts, InjectionPolicy, Template, TemplateSet
from webhook.core.optin import annotation_of
from webhook.core.overrides import apply_overrides, read_overrides
from webhook.core.render import Branch, Unresolved, VariableSite, WorkloadValues, describe_path, substitute

MAX_TARGETS = 256
_ATTRIBUTES = {"containers": "containers", "initContainers": "init_containers", "env": "env"}


def tailor(
    found: list[Template],
    obj: JsonObject,
    pod_template: JsonObject,
    facts: AdmissionFacts,
    policy: InjectionPolicy,
    earlier: tuple[TemplateSet, Mapping[str, str]],
) -> list[Template]:
    """The templates rendered for this workload and with its overrides; raises InjectionError.
    ``earlier``: the template set and the status annotation's entries (templates injected before)."""
    if any(template.variables.sites for template in found):  # Variables' truth, without a call each
        values = workload_values(obj, pod_template, facts)
        found = [
            render(template, values, facts.kind) if template.variables else template for template in found
        ]
    key = policy.overrides_annotation
    located = _annotation(obj, pod_template, key)
    if located is None:
        return found
    text, where = located
    overrides = read_overrides(text, where, policy.readers)
    before = injected_before(earlier[1], earlier[0], facts.namespace)
    return apply_overrides(found, before, overrides, facts.namespace, policy)


def injected_before(names: Mapping[str, str], templates: TemplateSet, namespace: str) -> list[Template]:
    """The templates the status annotation lists, as loaded now (for their container names)."""
    resolved = (templates.resolve(name, namespace) for name in names)
    return [template for template in resolved if template is not None]


def render(template: Template, values: WorkloadValues, kind: str) -> Template:
    """``template`` with its variables substituted, copying only along the rendered paths."""
    changed: dict[str, Any] = {}
    for field, branch in template.variables.tree:
        attribute = _ATTRIBUTES.get(str(field), "annotations")
        if isinstance(branch, VariableSite):  # no site is a whole field: the paths are longer
            continue
        changed[attribute] = _copied(getattr(template, attribute), branch, template, values, kind)
    return _rendered(template, changed)


def _copied(node: Any, branch: Branch, template: Template, values: WorkloadValues, kind: str) -> Any:
    copy: Any = dict(node) if isinstance(node, Mapping) else list(node)
    for key, sub in branch:
        if isinstance(sub, VariableSite):
            try:
                copy[key] = substitute(sub, values, kind)
            except Unresolved as exc:
                message = f"template {template.name!r}: {describe_path(sub.path)} {exc.problem}"
                raise VariableUnresolved(message, template.name) from None
        else:
            copy[key] = _copied(node[key], sub, template, values, kind)
    return copy


def _rendered(template: Template, roots: dict[str, Any]) -> Template:
    """A Template built field by field: dataclasses.replace() costs twice as much per request."""
    return Template(
        name=template.name,
        revision=template.revision,
        containers=tuple(roots["containers"]) if "containers" in roots else template.containers,
        init_containers=tuple(roots["init_containers"])
        if "init_containers" in roots
        else template.init_containers,
        volumes=template.volumes,
        volume_mounts=template.volume_mounts,
        env=tuple(roots["env"]) if "env" in roots else template.env,
        image_pull_secrets=template.image_pull_secrets,
        annotations=roots.get("annotations", template.annotations),
        labels=template.labels,
        native_sidecars=template.native_sidecars,
        namespace=template.namespace,
        source=template.source,
        target_containers=template.target_containers,
        init_containers_first=template.init_containers_first,
        overridable=template.overridable,
    )


def workload_values(obj: JsonObject, pod_template: JsonObject, facts: AdmissionFacts) -> WorkloadValues:
    metadata = _metadata(obj)
    name = metadata.get("name") or metadata.get("generateName") or facts.name
    spec = pod_template.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    kind: str | None = facts.kind
    workload: str | None = str(name) if name else None
    if facts.kind == "Pod":
        kind, workload = _controller(metadata)
    owners = (_metadata(pod_template), metadata) if pod_template is not obj else (metadata,)
    return WorkloadValues(
        namespace=facts.namespace,
        name=str(name or ""),
        service_account=str(account),
        workload_kind=kind,
        workload_name=workload,
        labels=tuple(_map(owner, "labels") for owner in owners),
        annotations=tuple(_map(owner, "annotations") for owner in owners),
    )


def _metadata(obj: JsonObject) -> JsonObject:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _map(metadata: JsonObject, field: str) -> Mapping[str, Any]:
    entries = metadata.get(field)
    return entries if isinstance(entries, dict) else {}


def _controller(metadata: JsonObject) -> tuple[str | None, str | None]:
    refs = metadata.get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            kind, name = ref.get("kind"), ref.get("name")
            if isinstance(kind, str) and isinstance(name, str):
                return kind, name
    return None, None


def targets(
    templates: list[Template], obj: JsonObject, pod_template: JsonObject, policy: InjectionPolicy
) -> tuple[dict[str, frozenset[str] | None], list[str]]:
    """Per template, the app containers that get its env and mounts (None: all), and a warning per
    named container the pod does not have as an app container."""
    located = _annotation(obj, pod_template, policy.target_containers_annotation)
    if located is None and all(template.target_containers is None for template in templates):
        return dict.fromkeys((template.name for template in templates), None), []  # the common case
    spec = pod_template.get("spec") or {}
    app = {c.get("name") for c in spec.get("containers") or [] if isinstance(c, dict)}
    named: tuple[str, ...] | None = None
    warnings: list[str] = []
    if located is not None:
        text, where = located
        named = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
        if len(named) > MAX_TARGETS:
            raise InvalidObject(where, f"{len(named)} containers named; at most {MAX_TARGETS} are handled")
        warnings += [f"{where} names {n!r}, not an app container of the pod" for n in named if n not in app]
    chosen: dict[str, frozenset[str] | None] = {}
    for template in templates:
        names = named if named is not None else template.target_containers
        chosen[template.name] = None if names is None else frozenset(names)
        if named is None and names is not None:
            warnings += [
                f"template {template.name!r} targets container {n!r}, not an app container of the pod"
                for n in names
                if n not in app
            ]
    return chosen, warnings


def _annotation(obj: JsonObject, pod_template: JsonObject, key: str) -> tuple[str, str] | None:
    """The annotation's value and where it was found: the object's own, else its pod template's.
    Read without copying the annotations: this runs for every injection."""
    for owner, where in ((obj, "metadata"), (pod_template, "pod template metadata")):
        value = annotation_of(owner, key)
        if value is not None:
            return value, f"{where}.annotations[{key!r}]"
        if pod_template is obj:
            break
    return None
