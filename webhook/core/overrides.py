"""A workload's overrides of its sidecars' fields: the ``sidecar-injector.io/overrides`` annotation.

The annotation (on the object, else on its pod template) holds YAML or JSON
``{<container name>: {<field>: value}}``, at most ``MAX_OVERRIDES_BYTES`` long; the edge's parser
(``WorkloadReaders.parse``) bounds its nesting too. A container is one a requested template injects
(a sidecar or an init container). Each field must be listed in that template's ``overridable``
(default ``[resources]``); ``image`` never is for a template from another namespace than the
workload's. ``resources`` is merged per section (``limits: {memory: 1Gi}`` keeps the requests and the
other limits), ``env`` by name (a listed name replaces the template's entry, a new one is added);
any other field is replaced. A null removes the entry or field. The overridden container is then
checked as the template loader checks containers (``WorkloadReaders.check_container``).

Every refusal is an OverrideRejected naming the template, the container and the field; an
annotation that is not a map of maps is an InvalidObject.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from webhook.core.errors import InvalidObject, OverrideRejected
from webhook.core.jsontypes import JsonObject
from webhook.core.model import InjectionPolicy, Template, WorkloadReaders

MAX_OVERRIDES_BYTES = 16 * 1024
MAX_DEPTH = 10
"""Nesting of the annotation's value: a container field is at most a few levels deep."""
Overrides = dict[str, dict[str, Any]]


def read_overrides(text: str, where: str, readers: WorkloadReaders | None) -> Overrides:
    """The annotation's value as ``{container: {field: value}}``; raises InvalidObject. Without the
    edge's readers only JSON is read."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_OVERRIDES_BYTES:
        raise InvalidObject(where, f"longer than {MAX_OVERRIDES_BYTES} bytes")
    try:
        data = readers.parse(text) if readers is not None else _json(text)
    except ValueError as exc:
        raise InvalidObject(where, f"not YAML or JSON: {exc}") from exc
    shape = "expected a map of container names to maps of fields, e.g. {agent: {resources: {...}}}"
    if not isinstance(data, dict) or not all(
        isinstance(name, str) and isinstance(fields, dict) and all(isinstance(f, str) for f in fields)
        for name, fields in data.items()
    ):
        raise InvalidObject(where, shape)
    return data


def _json(text: str) -> object:
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return data


def apply_overrides(
    templates: list[Template],
    injected_before: list[Template],
    overrides: Overrides,
    namespace: str,
    policy: InjectionPolicy,
) -> list[Template]:
    """The templates with the workload's overrides applied and checked.

    A container of a template injected before (listed in the status annotation) was overridden
    then: its entry is accepted and left alone.
    """
    owners = {name: t for t in templates for name in _container_names(t)}
    earlier = {name for t in injected_before for name in _container_names(t)}
    by_template: dict[str, dict[str, dict[str, Any]]] = {}
    for container, fields in overrides.items():
        template = owners.get(container)
        if template is None:
            if container in earlier:
                continue
            offered = ", ".join(sorted(owners)) or "none"
            raise OverrideRejected(
                f"overrides name container {container!r}, which no requested template injects "
                f"(templates: {', '.join(t.name for t in templates)}; containers: {offered})"
            )
        for field in fields:
            _check_overridable(template, container, field, namespace)
        by_template.setdefault(template.name, {})[container] = fields
    if not by_template:
        return templates
    if policy.readers is None:
        raise OverrideRejected("overrides cannot be checked by this caller (no container checker was given)")
    readers = policy.readers
    return [_overridden(t, by_template[t.name], readers) if t.name in by_template else t for t in templates]


def _check_overridable(template: Template, container: str, field: str, namespace: str) -> None:
    where = f"template {template.name!r}, container {container!r}, field {field!r}"
    if field not in template.overridable:
        allowed = ", ".join(sorted(template.overridable)) or "nothing"
        raise OverrideRejected(f"{where}: not overridable (the template's overridable: {allowed})")
    if field == "image" and template.namespace is not None and template.namespace != namespace:
        raise OverrideRejected(
            f"{where}: a template from namespace {template.namespace!r} cannot let "
            f"workloads of namespace {namespace!r} choose its image"
        )


def _overridden(
    template: Template, by_container: dict[str, dict[str, Any]], readers: WorkloadReaders
) -> Template:
    volumes = {str(v.get("name")): v for v in template.volumes}
    changed: dict[str, tuple[JsonObject, ...]] = {}
    for attribute, items in (
        ("containers", template.containers),
        ("init_containers", template.init_containers),
    ):
        if not any(item["name"] in by_container for item in items):
            continue
        result = []
        for item in items:
            fields = by_container.get(item["name"])
            if fields is not None:
                item = _merged(item, fields)
                kind = _kind(attribute, item, template.native_sidecars)
                _check(template, item["name"], readers.check_container(item, kind, volumes))
            result.append(item)
        changed[attribute] = tuple(result)
    return _replace(template, changed)


def _merged(container: JsonObject, fields: Mapping[str, Any]) -> JsonObject:
    result = dict(container)
    for field, value in fields.items():
        if value is None:
            result.pop(field, None)
        elif field == "resources" and isinstance(value, dict) and isinstance(result.get(field), dict):
            result[field] = _merged_sections(result[field], value)
        elif field == "env" and isinstance(value, list) and isinstance(result.get(field), list):
            result[field] = _merged_env(result[field], value)
        else:
            result[field] = value
    return result


def _merged_sections(current: JsonObject, changes: JsonObject) -> JsonObject:
    merged = dict(current)
    for section, entries in changes.items():
        if isinstance(entries, dict) and isinstance(merged.get(section), dict):
            section_entries = {**merged[section], **entries}
            merged[section] = {k: v for k, v in section_entries.items() if v is not None}
        elif entries is None:
            merged.pop(section, None)
        else:
            merged[section] = entries
    return merged


def _merged_env(current: list[Any], changes: list[Any]) -> list[Any]:
    replacing = {e.get("name"): e for e in changes if isinstance(e, dict)}
    merged = [replacing.pop(e.get("name"), e) if isinstance(e, dict) else e for e in current]
    merged.extend(e for e in changes if not isinstance(e, dict) or e.get("name") in replacing)
    return merged


def _check(template: Template, container: str, problems: tuple[str, ...]) -> None:
    if not problems:
        return
    listed = "; ".join(f"field {_field_of(p)!r}: {p}" for p in problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    raise OverrideRejected(
        f"template {template.name!r}, container {container!r}: invalid override: {listed}{more}"
    )


def _field_of(problem: str) -> str:
    head = problem.split(":", 1)[0]
    return head.split(".", 1)[0].split("[", 1)[0]


def _kind(attribute: str, container: JsonObject, native_sidecars: bool) -> str:
    if attribute == "containers":
        return "sidecar" if native_sidecars else "container"
    return "sidecar" if container.get("restartPolicy") == "Always" else "init"


def _container_names(template: Template) -> list[str]:
    return [c["name"] for c in (*template.init_containers, *template.containers)]


def _replace(template: Template, changed: dict[str, tuple[JsonObject, ...]]) -> Template:
    return replace(
        template,
        containers=changed.get("containers", template.containers),
        init_containers=changed.get("init_containers", template.init_containers),
    )
