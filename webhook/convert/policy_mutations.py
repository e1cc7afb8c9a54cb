"""The JSON Patch mutations of an exported policy: what ``core.merging.PodTemplateMerger`` adds for one
template, in CEL.

The API server applies a policy's mutations one after another, each evaluated on the object as the
ones before left it, so each mutation adds one item and reads whether its list exists yet. The env
and mounts of app containers come first: the engine gives them to the workload's own containers,
not to the sidecars the template adds after them.
"""

from __future__ import annotations

from collections.abc import Iterable

from webhook.convert import cel
from webhook.convert.policy_match import POD_TEMPLATE, POD_TEMPLATE_PATH
from webhook.core import InjectionPolicy
from webhook.core.jsontypes import JsonObject
from webhook.core.merging import NATIVE_SIDECAR_RESTART_POLICY
from webhook.core.model import Template

MAX_APP_CONTAINERS = 32
"""CEL has no index over a list, so app containers are addressed from a literal list of indexes."""
SPEC = f"{POD_TEMPLATE}.spec"


def mutations(template: Template, policy: InjectionPolicy) -> list[str]:
    """The expressions, in order; each evaluates to a list of JSONPatch operations."""
    found = [_app_container_items(template, "env", "name", item) for item in template.env]
    found += [_app_container_items(template, "volumeMounts", "mountPath", m) for m in template.volume_mounts]
    if template.containers and not template.native_sidecars:
        found.append(_append_all("containers", template.containers))
    found += _init_containers(template)
    found += [_keyed_item("volumes", volume, claims=True) for volume in template.volumes]
    found += [_keyed_item("imagePullSecrets", secret) for secret in template.image_pull_secrets]
    found += [_metadata_entry("annotations", k, v) for k, v in template.annotations.items()]
    found += [_metadata_entry("labels", k, v) for k, v in template.labels.items()]
    found.append(_status(template, policy))
    return found


def _path(*tokens: str) -> str:
    return f"{POD_TEMPLATE_PATH} + {cel.string(''.join('/' + t for t in tokens))}"


def _wrap(operations: Iterable[str]) -> str:
    return "[" + ", ".join(operations) + "]"


def _append_all(field: str, items: Iterable[JsonObject]) -> str:
    items = list(items)
    whole = cel.patch("add", _path("spec", field), cel.literal(items))
    return cel.conditional(
        f"has({SPEC}.{field})", _wrap(cel.add_items(_path("spec", field), items)), _wrap([whole])
    )


def _init_containers(template: Template) -> list[str]:
    items = list(template.init_containers)
    if template.native_sidecars:
        items += [{**c, "restartPolicy": NATIVE_SIDECAR_RESTART_POLICY} for c in template.containers]
    if not items:
        return []
    if not template.init_containers_first:
        return [_append_all("initContainers", items)]
    placed = [
        cel.patch("add", _path("spec", "initContainers", str(index)), cel.literal(item))
        for index, item in enumerate(items)
    ]
    whole = cel.patch("add", _path("spec", "initContainers"), cel.literal(items))
    return [cel.conditional(f"has({SPEC}.initContainers)", _wrap(placed), _wrap([whole]))]


def _keyed_item(field: str, item: JsonObject, *, claims: bool = False) -> str:
    """Add ``item`` unless an item of its name is there (a volume: or a StatefulSet's claim template)."""
    name = cel.string(item["name"])
    taken = [f"has({SPEC}.{field}) && {SPEC}.{field}.exists(i, i.name == {name})"]
    if claims:
        taken.append(
            'object.kind == "StatefulSet" && has(object.spec.volumeClaimTemplates) && '
            "object.spec.volumeClaimTemplates.exists(c, has(c.metadata) && has(c.metadata.name) && "
            f"c.metadata.name == {name})"
        )
    append = cel.conditional(
        f"has({SPEC}.{field})",
        _wrap(cel.add_items(_path("spec", field), [item])),
        _wrap([cel.patch("add", _path("spec", field), cel.literal([item]))]),
    )
    return cel.conditional(cel.any_of(taken), "[]", append)


def _app_container_items(template: Template, field: str, key: str, item: JsonObject) -> str:
    """Add ``item`` to each app container (or the template's targets) that lacks its ``key``."""
    container = f"{SPEC}.containers[i]"
    value = cel.string(item[key])
    wanted = [f"i < size({SPEC}.containers)"]
    if template.target_containers is not None:
        wanted.append(f"{container}.name in {cel.strings(template.target_containers)}")
    wanted.append(f"!(has({container}.{field}) && {container}.{field}.exists(x, x.{key} == {value}))")
    base = f"{POD_TEMPLATE_PATH} + {cel.string('/spec/containers/')} + string(i) + {cel.string('/' + field)}"
    add = cel.conditional(
        f"has({container}.{field})",
        cel.patch("add", f"{base} + {cel.string('/-')}", cel.literal(item)),
        cel.patch("add", base, cel.literal([item])),
    )
    indexes = "[" + ", ".join(str(i) for i in range(MAX_APP_CONTAINERS)) + "]"
    return f"{indexes}.filter(i, {cel.all_of(wanted)}).map(i, {add})"


def _metadata_entry(field: str, key: str, value: str, *, replace_with: str | None = None) -> str:
    """Set a pod-template annotation or label when absent (or, with ``replace_with``, replace it by
    that CEL expression when present), creating the metadata and the map as needed."""
    metadata = f"{POD_TEMPLATE}.metadata"
    entries = f"{metadata}.{field}"
    quoted = cel.string(key)
    present = "[]"
    if replace_with is not None:
        present = _wrap(
            [cel.patch("replace", _path("metadata", field, cel.pointer_token(key)), replace_with)]
        )
    into_map = cel.conditional(
        f"{quoted} in {entries}",
        present,
        _wrap([cel.patch("add", _path("metadata", field, cel.pointer_token(key)), cel.literal(value))]),
    )
    into_metadata = cel.conditional(
        f"has({entries})",
        into_map,
        _wrap([cel.patch("add", _path("metadata", field), cel.literal({key: value}))]),
    )
    new_metadata = _wrap([cel.patch("add", _path("metadata"), cel.literal({field: {key: value}}))])
    return cel.conditional(f"has({metadata})", into_metadata, new_metadata)


def _status(template: Template, policy: InjectionPolicy) -> str:
    """The status annotation lists the template after those injected before, as the engine writes it
    (``core.selection.render_status``); an unreadable one is replaced, as the engine replaces it."""
    entry = '{"name":' + cel.string(template.name) + ',"revision":' + cel.string(template.revision) + "}"
    alone = '{"injected":[' + entry + "]}"
    key = cel.string(policy.status_annotation)
    current = f"{POD_TEMPLATE}.metadata.annotations[{key}]"
    appended = cel.conditional(
        f'{current}.startsWith("{{\\"injected\\":[") && {current}.endsWith("]}}")',
        f"{current}.substring(0, size({current}) - 2) + "
        f'({current}.endsWith("[]}}") ? "" : ",") + {cel.string(entry + "]}")}',
        cel.string(alone),
    )
    return _metadata_entry("annotations", policy.status_annotation, alone, replace_with=appended)
