"""The JSON Patch mutations of an exported policy: what ``core.merging.PodTemplateMerger`` adds for one
template, in CEL.

The API server applies a policy's mutations one after another, each evaluated on the object as the
ones before left it, so each mutation adds one item and reads whether its list exists yet. The env
and mounts of app containers come first: the engine gives them to the workload's own containers,
not to the sidecars the template adds after them.
"""

from __future__ import annotations

from collections.abc import Iterable

from webhook.convert import cel, policy_match, policy_status
from webhook.convert.policy_match import POD_TEMPLATE, POD_TEMPLATE_PATH
from webhook.core import InjectionPolicy
from webhook.core.jsontypes import JsonObject
from webhook.core.merging import NATIVE_SIDECAR_RESTART_POLICY
from webhook.core.model import Template

MAX_APP_CONTAINERS = policy_status.MAX_APP_CONTAINERS
SPEC = f"{POD_TEMPLATE}.spec"


def mutations(template: Template, policy: InjectionPolicy) -> list[str]:
    """The expressions, in order; each evaluates to a list of JSONPatch operations.

    Workload injection: the template into every kind. Pod injection: into Pods; a workload (matched
    only when it opted in on its own metadata) gets the opt-in copied into its pod template."""
    if policy.mode_of(template) == "workload":
        return _injection(template, policy)
    into_pods = [
        cel.conditional('object.kind == "Pod"', found, "[]") for found in _injection(template, policy)
    ]
    copy = [_status(policy), _copy_opt_in(template, policy)]
    return [*into_pods, *(cel.conditional('object.kind != "Pod"', found, "[]") for found in copy)]


def _injection(template: Template, policy: InjectionPolicy) -> list[str]:
    # The status first: it is computed from the object as admitted (see policy_status).
    found = [_status(policy)]
    found += [_app_container_items(template, "env", "name", item) for item in template.env]
    found += [_app_container_items(template, "volumeMounts", "mountPath", m) for m in template.volume_mounts]
    if template.containers and not template.native_sidecars:
        found.append(_append_all("containers", template.containers))
    found += _init_containers(template)
    found += [_keyed_item("volumes", volume, claims=True) for volume in template.volumes]
    found += [_keyed_item("imagePullSecrets", secret) for secret in template.image_pull_secrets]
    found += [_metadata_entry("annotations", k, v) for k, v in template.annotations.items()]
    found += [_metadata_entry("labels", k, v) for k, v in template.labels.items()]
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
    return f"{policy_status.INDEXES}.filter(i, {cel.all_of(wanted)}).map(i, {add})"


def _metadata_entry(field: str, key: str, value: str, *, replace_with: str | None = None) -> str:
    """Set a pod-template annotation or label when absent (or, with ``replace_with``, replace it by
    that CEL expression when present), creating the metadata and the map as needed."""
    return _metadata_value(field, key, cel.literal(value), replace_with=replace_with)


def _metadata_value(field: str, key: str, value: str, *, replace_with: str | None = None) -> str:
    """As ``_metadata_entry``, the value a CEL expression."""
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
        _wrap([cel.patch("add", _path("metadata", field, cel.pointer_token(key)), value)]),
    )
    into_metadata = cel.conditional(
        f"has({entries})",
        into_map,
        _wrap([cel.patch("add", _path("metadata", field), f"{{{quoted}: {value}}}")]),
    )
    new_metadata = _wrap(
        [cel.patch("add", _path("metadata"), f"{{{cel.string(field)}: {{{quoted}: {value}}}}}")]
    )
    return cel.conditional(f"has({metadata})", into_metadata, new_metadata)


def variables(template: Template, policy: InjectionPolicy) -> list[dict[str, str]]:
    """The policy's variables: the parts of the status annotation (``policy_status``)."""
    if policy.mode_of(template) == "workload":
        return policy_status.variables(policy, template, copy=False)
    # Pod injection: a Pod gets the template's entry, a workload the copy of its opt-in.
    pod = policy_status.variables(policy, template, copy=False)
    workload = policy_status.variables(policy, None, copy=True)
    return [
        {
            "name": a["name"],
            "expression": cel.conditional('object.kind == "Pod"', a["expression"], b["expression"]),
        }
        if a["expression"] != b["expression"]
        else a
        for a, b in zip(pod, workload, strict=True)
    ]


def _status(policy: InjectionPolicy) -> str:
    """The status annotation, version 2, built by the variables."""
    new = policy_status.value()
    return _metadata_value("annotations", policy.status_annotation, new, replace_with=new)


def _copy_opt_in(template: Template, policy: InjectionPolicy) -> str:
    """Pod injection: the pod template's inject annotation asks for the template too (its Pods never
    see the workload's metadata). An opt-out or absent value is replaced; a list is extended as
    written (the engine also takes out names the workload's own opt-in overrode: a stated loss)."""
    key = cel.string(policy.inject_annotation)
    current = f"{POD_TEMPLATE}.metadata.annotations[{key}]"
    name = cel.string(template.name)
    extended = cel.conditional(
        f"{current}.matches({cel.string(policy_match.OPT_OUT)})", name, f'{current} + ", " + {name}'
    )
    return _metadata_value("annotations", policy.inject_annotation, name, replace_with=extended)
