"""The status annotation an exported policy writes: version 2, as ``core.recording.record_status``
writes it, so that the webhook and the policies see each other's injections and uninject, drift and
rollout work on objects a policy injected.

The status mutation runs first, on the object as admitted, and predicts what the mutations after it
add: each prediction is the test that mutation itself makes. CEL has no JSON, so the value is built
as text (compact JSON, the engine's key order); the names in it are the template's (encoded here)
and container names (DNS labels: nothing to escape). An earlier status (another template's, the
webhook's, or version 1) is spliced: this template's entry appended to ``injected``, its paths to
``created``, its copy to ``copied``. ``wasNull`` is never written: the API server decodes a ``null``
list as absent before any webhook or policy sees it, so a policy never finds one to record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from webhook.convert import cel
from webhook.convert.policy_match import POD_TEMPLATE
from webhook.core import InjectionPolicy
from webhook.core.jsontypes import JsonObject
from webhook.core.model import Template

MAX_APP_CONTAINERS = 32
"""CEL has no index over a list, so app containers are addressed from a literal list of indexes."""
SPEC = f"{POD_TEMPLATE}.spec"
METADATA = f"{POD_TEMPLATE}.metadata"
ANNOTATIONS = f"{METADATA}.annotations"
HEAD = '{"v":2,"injected":['
INDEXES = "[" + ", ".join(str(i) for i in range(MAX_APP_CONTAINERS)) + "]"


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _pairs(names: Iterable[str]) -> str:
    """[[raw, JSON-encoded], ...]: CEL tests the raw name, the status gets the encoded one."""
    return "[" + ", ".join(f"[{cel.string(n)}, {cel.string(_json(n))}]" for n in names) + "]"


def _joined(parts: list[str], separator: str = ",") -> str:
    """The non-empty CEL strings of ``parts``, joined."""
    return f"[{', '.join(parts)}].filter(s, s != {cel.string('')}).join({cel.string(separator)})"


def _listed_part(field: str, remaining: str) -> str:
    """``"field":[...]`` of the pairs ``remaining`` (a CEL list), or "" when none remain."""
    listed = f'{cel.string(_json(field) + ":[")} + {remaining}.map(p, p[1]).join(",") + "]"'
    return cel.conditional(f"size({remaining}) > 0", listed, cel.string(""))


def _absent(field: str, key: str, name: str) -> str:
    return f"!(has({SPEC}.{field}) && {SPEC}.{field}.exists(i, i.{key} == {name}))"


def remaining_volumes(template: Template) -> str:
    """The template's volumes whose name neither the pod nor a StatefulSet's claim templates have."""
    claimed = (
        'object.kind == "StatefulSet" && has(object.spec.volumeClaimTemplates) && '
        "object.spec.volumeClaimTemplates.exists(c, has(c.metadata) && has(c.metadata.name) && "
        "c.metadata.name == p[0])"
    )
    names = [v["name"] for v in template.volumes]
    return f"{_pairs(names)}.filter(p, {_absent('volumes', 'name', 'p[0]')} && !({claimed}))"


def _remaining_secrets(template: Template) -> str:
    names = [s["name"] for s in template.image_pull_secrets]
    return f"{_pairs(names)}.filter(p, {_absent('imagePullSecrets', 'name', 'p[0]')})"


def _remaining_entries(field: str, keys: Iterable[str]) -> str:
    entries = f"{METADATA}.{field}"
    present = f"has({METADATA}) && has({entries}) && p[0] in {entries}"
    return f"{_pairs(keys)}.filter(p, !({present}))"


def _targeted(template: Template) -> str:
    wanted = [f"i < size({SPEC}.containers)"]
    if template.target_containers is not None:
        wanted.append(f"{SPEC}.containers[i].name in {cel.strings(template.target_containers)}")
    return f"{INDEXES}.filter(i, {cel.all_of(wanted)})"


def _remaining_in_container(field: str, key: str, items: tuple[JsonObject, ...]) -> str:
    container = f"{SPEC}.containers[i]"
    taken = f"has({container}.{field}) && {container}.{field}.exists(x, x.{key} == p[0])"
    return f"{_pairs(str(item[key]) for item in items)}.filter(p, !({taken}))"


def _per_container(template: Template, field: str, key: str, items: tuple[JsonObject, ...]) -> str:
    """``"env":{"web":[...],...}``: per targeted app container, what it lacks; or ""."""
    if not items:
        return cel.string("")
    remaining = _remaining_in_container(field, key, items)
    name = f"{SPEC}.containers[i].name"
    one = cel.conditional(
        f"size({remaining}) > 0",
        f'"\\"" + {name} + "\\":[" + {remaining}.map(p, p[1]).join(",") + "]"',
        cel.string(""),
    )
    fragments = f'{_targeted(template)}.map(i, {one}).filter(s, s != "")'
    whole = f'{cel.string(_json(field) + ":{")} + {fragments}.join(",") + "}}"'
    return cel.conditional(f"size({fragments}) > 0", whole, cel.string(""))


def _static(field: str, names: list[str]) -> str:
    return cel.string(f"{_json(field)}:{_json(names)}" if names else "")


def added(template: Template) -> str:
    """The entry's ``added`` object, in ``core.status``'s order of fields."""
    inits = [c["name"] for c in template.init_containers]
    containers = [c["name"] for c in template.containers]
    if template.native_sidecars:
        inits, containers = [*inits, *containers], []
    parts = [
        _static("containers", containers),
        _static("initContainers", inits),
        _listed_part("volumes", remaining_volumes(template)),
        _listed_part("imagePullSecrets", _remaining_secrets(template)),
        _listed_part("annotations", _remaining_entries("annotations", template.annotations)),
        _listed_part("labels", _remaining_entries("labels", template.labels)),
        _per_container(template, "env", "name", template.env),
        _per_container(template, "volumeMounts", "mountPath", template.volume_mounts),
    ]
    return f'"{{" + {_joined(parts)} + "}}"'


def entry(template: Template) -> str:
    head = f'{{"name":{_json(template.name)},"revision":{_json(template.revision)},"added":'
    return f"{cel.string(head)} + {added(template)} + {cel.string('}')}"


def _path_if(test: str, path: str) -> str:
    return cel.conditional(test, cel.string(_json(path)), cel.string(""))


def _created_in_containers(template: Template) -> str:
    """``spec/containers/<name>/env`` and ``.../volumeMounts`` each container gets, in the engine's
    order (per container, env then mounts)."""
    container = f"{SPEC}.containers[i]"
    paths = []
    for field, key, items in (
        ("env", "name", template.env),
        ("volumeMounts", "mountPath", template.volume_mounts),
    ):
        if items:
            remaining = _remaining_in_container(field, key, items)
            path = f'"\\"spec/containers/" + {container}.name + "/{field}\\""'
            test = f"size({remaining}) > 0 && !has({container}.{field})"
            paths.append(cel.conditional(test, path, cel.string("")))
    if not paths:
        return cel.string("")
    return f'{_targeted(template)}.map(i, {_joined(paths)}).filter(s, s != "").join(",")'


def created(template: Template | None, copies: bool) -> str:
    """The quoted paths the mutations create, comma-separated, in ``core.merging``'s order; then the
    metadata maps (the template's annotations and labels, the copy, the status itself)."""
    parts: list[str] = []
    if template is not None:
        if template.init_containers or (template.native_sidecars and template.containers):
            parts.append(_path_if(f"!has({SPEC}.initContainers)", "spec/initContainers"))
        if template.volumes:
            parts.append(
                _path_if(f"size({remaining_volumes(template)}) > 0 && !has({SPEC}.volumes)", "spec/volumes")
            )
        parts.append(_created_in_containers(template))
        if template.image_pull_secrets:
            test = f"size({_remaining_secrets(template)}) > 0 && !has({SPEC}.imagePullSecrets)"
            parts.append(_path_if(test, "spec/imagePullSecrets"))
    no_metadata = f"!has({METADATA})"
    labels = _path_if(f"{no_metadata} || !has({METADATA}.labels)", "metadata/labels")
    annotations = _path_if(f"{no_metadata} || !has({ANNOTATIONS})", "metadata/annotations")
    adds_labels = template is not None and bool(template.labels)
    labels_first = adds_labels and not (template is not None and template.annotations) and not copies
    parts.append(_path_if(no_metadata, "metadata"))
    parts += [labels, annotations] if labels_first else [annotations, *([labels] if adds_labels else [])]
    return _joined(parts)


def copied_pair(policy: InjectionPolicy) -> str:
    """``"<inject key>":<its value before the copy, or null>``; the value escaped for JSON (quotes and
    backslashes: an annotation value with control characters would make the status unreadable)."""
    key = cel.string(policy.inject_annotation)
    value = f"{ANNOTATIONS}[{key}]"
    escaped = f'{value}.replace("\\\\", "\\\\\\\\").replace("\\"", "\\\\\\"")'
    present = f"has({METADATA}) && has({ANNOTATIONS}) && {key} in {ANNOTATIONS}"
    before = cel.conditional(present, f'"\\"" + {escaped} + "\\""', cel.string("null"))
    return f"{cel.string(_json(policy.inject_annotation) + ':')} + {before}"


def variables(policy: InjectionPolicy, template: Template | None, copy: bool) -> list[dict[str, str]]:
    """The policy's ``spec.variables`` that build the status: each part once, referred to by name
    (inlined, the splice repeats its parts into an expression of megabytes). Every variable is
    defined on every object (no error when there is no status), so none fails when evaluated."""
    key = cel.string(policy.status_annotation)
    current = f"{ANNOTATIONS}[{key}]"
    present = f"has({METADATA}) && has({ANNOTATIONS}) && {key} in {ANNOTATIONS}"
    normal = cel.conditional(
        f'{current}.startsWith("{{\\"injected\\":[")',
        f'"{{\\"v\\":2," + {current}.substring(1, size({current}))',
        current,
    )
    text, end, rest = _var("statusText"), _var("statusEnd"), _var("statusRest")
    readable = f'{text}.startsWith({cel.string(HEAD)}) && {text}.endsWith("}}")'
    ends = [
        f'{text}.indexOf("],\\"{field}\\":{opening}")'
        for field, opening in (("created", "["), ("wasNull", "["), ("copied", "{"))
    ]
    found = f"size({text}) - 2"
    for index in reversed(ends):
        found = cel.conditional(f"{index} >= 0", index, found)
    has_created = f'{rest}.startsWith(",\\"created\\":[")'
    earlier = _var("statusEarlierCreated")
    fresh = f'{_var("statusCreated")}.split(",").filter(p, p != "" && !{earlier}.contains(p))'
    named = {
        "statusEntry": entry(template) if template is not None else cel.string(""),
        "statusCreated": created(template, copy),
        "statusCopied": copied_pair(policy) if copy else cel.string(""),
        "statusText": cel.conditional(present, normal, cel.string("")),
        "statusReadable": readable,
        "statusEnd": cel.conditional(_var("statusReadable"), found, "0"),
        "statusBody": cel.conditional(
            _var("statusReadable"), f"{text}.substring({len(HEAD)}, {end})", cel.string("")
        ),
        "statusRest": cel.conditional(
            _var("statusReadable"), f"{text}.substring({end} + 1, size({text}) - 1)", cel.string("")
        ),
        "statusEarlierCreated": cel.conditional(
            has_created, f'{rest}.substring(12, {rest}.indexOf("]"))', cel.string("")
        ),
        "statusAfter": cel.conditional(
            has_created, f'{rest}.substring({rest}.indexOf("]") + 1, size({rest}))', rest
        ),
        "statusMergedCreated": _joined([earlier, f'{fresh}.join(",")']),
    }
    return [{"name": name, "expression": expression} for name, expression in named.items()]


def value() -> str:
    """The status annotation's new value (from ``variables``): this template's entry and copy,
    spliced into an earlier readable status, or alone (an unreadable one is replaced, as the engine
    replaces it)."""
    after, pair = _var("statusAfter"), _var("statusCopied")
    entries = _joined([_var("statusBody"), _var("statusEntry")])
    merged = _var("statusMergedCreated")
    created_part = cel.conditional(f'{merged} != ""', f'",\\"created\\":[" + {merged} + "]"', '""')
    copied_into = cel.conditional(
        f'{after}.contains(",\\"copied\\":{{")',
        f'{after}.substring(0, size({after}) - 1) + "," + {pair} + "}}"',
        f'{after} + ",\\"copied\\":{{" + {pair} + "}}"',
    )
    tail = cel.conditional(f'{pair} == ""', after, copied_into)
    return f'{cel.string(HEAD)} + {entries} + "]" + {created_part} + {tail} + "}}"'


def _var(name: str) -> str:
    return f"variables.{name}"
