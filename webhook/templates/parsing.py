"""Pure: ConfigMap manifests in, validated core Templates (or TemplateErrors naming the field) out.

Two formats are recognised:
- legacy Initializer: a ConfigMap named ``<name>-initializer`` whose key ``config`` holds YAML with
  ``containers``, ``initContainers`` and ``volumes``; it serves the template ``<name>``;
- native: a ConfigMap labelled ``sidecar-injector.io/template``; its key ``template`` holds one
  template (the fields below) and it serves the template named like the ConfigMap.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from webhook.core.model import DEFAULT_ANNOTATION_PREFIX, Template
from webhook.core.security import TemplateSecurityPolicy, policy_violations
from webhook.templates.errors import TemplateError
from webhook.templates.schema import DEFAULT_KUBERNETES_VERSION, ITEM_SCHEMAS, schema_errors

TEMPLATE_LABEL = f"{DEFAULT_ANNOTATION_PREFIX}/template"
NATIVE_KEY = "template"
LEGACY_SUFFIX = "-initializer"
LEGACY_KEY = "config"

LIST_FIELDS = tuple(ITEM_SCHEMAS)
MAP_FIELDS = ("annotations", "labels")
KNOWN_FIELDS = frozenset({*LIST_FIELDS, *MAP_FIELDS, "nativeSidecars"})
# PyYAML reports some malformed input with other errors than YAMLError: "!!float ''" is an IndexError,
# "!!int 0x" a ValueError, a malformed !!timestamp an AttributeError, deep nesting a RecursionError. Any
# error from the loader means the text is not usable YAML.
YAML_FAILURES = (Exception,)
# Names end up as container, volume and template names: DNS-1123 labels.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class TemplateDocument:
    """Where one template comes from: enough to name it in every message."""

    name: str
    namespace: str | None
    source: str
    key: str
    text: str


def load_manifests(text: str, source: str) -> list[dict[str, Any]]:
    """Every object in a multi-document YAML file, with ``kind: List`` flattened."""
    try:
        documents = list(yaml.safe_load_all(text))
    except YAML_FAILURES as exc:
        raise TemplateError(source, "", "", f"not valid YAML: {_yaml_problem(exc)}") from exc
    objects: list[dict[str, Any]] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise TemplateError(source, "", "", "every YAML document must be a Kubernetes object")
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            objects.extend(item for item in document["items"] if isinstance(item, dict))
        else:
            objects.append(document)
    return objects


def template_documents(
    configmap: dict[str, Any], source: str, namespace: str | None, label: str = TEMPLATE_LABEL
) -> Iterator[TemplateDocument]:
    """The template documents a ConfigMap holds (none when it is not one of ours)."""
    if configmap.get("kind") != "ConfigMap":
        return
    metadata = configmap.get("metadata") or {}
    if not isinstance(metadata, dict):
        return
    name = metadata.get("name")
    data = configmap.get("data") or {}
    if not isinstance(name, str) or not isinstance(data, dict):
        return
    labels = metadata.get("labels") or {}
    if isinstance(labels, dict) and label in labels and isinstance(data.get(NATIVE_KEY), str):
        yield TemplateDocument(name, namespace, source, NATIVE_KEY, data[NATIVE_KEY])
    elif name.endswith(LEGACY_SUFFIX) and isinstance(data.get(LEGACY_KEY), str):
        yield TemplateDocument(name[: -len(LEGACY_SUFFIX)], namespace, source, LEGACY_KEY, data[LEGACY_KEY])


def unusable_template(
    configmap: dict[str, Any], source: str, label: str = TEMPLATE_LABEL
) -> TemplateError | None:
    """Why a ConfigMap that looks like a template (labelled as one, or named ``<name>-initializer``)
    yielded no document from ``template_documents``; None when it does not look like a template.

    A source reports this instead of ignoring the ConfigMap: its author must learn why nothing is served.
    """
    if configmap.get("kind") != "ConfigMap":
        return None
    metadata = configmap.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    labels = metadata.get("labels")
    name = metadata.get("name")
    if isinstance(labels, dict) and label in labels:
        return TemplateError(source, NATIVE_KEY, "", f"labelled {label} but has no string key {NATIVE_KEY!r}")
    if isinstance(name, str) and name.endswith(LEGACY_SUFFIX):
        message = f"named like a legacy template ({LEGACY_SUFFIX}) but has no string key {LEGACY_KEY!r}"
        return TemplateError(source, LEGACY_KEY, "", message)
    return None


def parse_template(
    document: TemplateDocument,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    security: TemplateSecurityPolicy | None = None,
) -> Template:
    """Validate one template document; raises TemplateError naming the source, key and field.

    Templates from a tenant's namespace (``document.namespace`` set) must also meet the restricted
    Pod Security level, whatever the administrator's policy for cluster-wide templates says.
    """

    def fail(field: str, message: str) -> TemplateError:
        return TemplateError(document.source, document.key, field, message)

    if not _DNS_LABEL.match(document.name) or len(document.name) > 63:
        raise fail("", f"template name {document.name!r} is not a valid DNS-1123 label")
    try:
        body = yaml.safe_load(document.text)
    except YAML_FAILURES as exc:
        raise fail("", f"not valid YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(body, dict):
        raise fail("", "expected a mapping with containers, initContainers, volumes, ...")
    problem = _not_json(body)
    if problem is not None:
        raise fail(*problem)
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise fail(unknown[0], f"unknown field; expected one of {', '.join(sorted(KNOWN_FIELDS))}")

    parts: dict[str, Any] = {}
    for field in LIST_FIELDS:
        items = body.get(field) or []
        if not isinstance(items, list):
            raise fail(field, "expected a list")
        for path, message in schema_errors(field, items, kubernetes_version):
            raise fail(path, message)
        parts[field] = tuple(items)
    for field in MAP_FIELDS:
        entries = body.get(field) or {}
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
        ):
            raise fail(field, "expected a map of strings to strings")
        parts[field] = dict(entries)
    native = body.get("nativeSidecars", False)
    if not isinstance(native, bool):
        raise fail("nativeSidecars", "expected true or false")

    _check_names(parts, fail)
    if not any(parts[f] for f in (*LIST_FIELDS, *MAP_FIELDS)):
        raise fail("", "the template injects nothing")
    template = Template(
        name=document.name,
        revision=content_revision(body),
        containers=parts["containers"],
        init_containers=parts["initContainers"],
        volumes=parts["volumes"],
        volume_mounts=parts["volumeMounts"],
        env=parts["env"],
        image_pull_secrets=parts["imagePullSecrets"],
        annotations=parts["annotations"],
        labels=parts["labels"],
        native_sidecars=native,
        namespace=document.namespace,
        source=document.source,
    )
    if document.namespace is not None:
        registries = security.allowed_registries if security else ()
        security = TemplateSecurityPolicy.restricted(registries)
    for violation in policy_violations(template, security) if security else ():
        raise fail(violation.field, f"{violation.message}: forbidden by the template security policy")
    return template


def _not_json(body: dict[str, Any]) -> tuple[str, str] | None:
    """(field, problem) for the first value YAML can hold but a JSON patch cannot.

    Template items go into patches verbatim, and orjson refuses non-string keys and half surrogate
    pairs (PyYAML decodes "\\ud83d\\ude00" to two of those), and writes null for .inf and .nan: each
    would fail or corrupt every injection of the template. Each shared (aliased) node is checked once.
    """
    stack: list[tuple[str, Any]] = [("", body)]
    seen: set[int] = set()
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, dict):
            for key, child in node.items():
                if not isinstance(key, str):
                    return path, f"key {key!r} is not a string"
                if not _is_text(key):
                    return path, f"key {key!r} {HALF_SURROGATE}"
                stack.append((f"{path}.{key}" if path else key, child))
        elif isinstance(node, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(node))
        elif isinstance(node, str):
            if not _is_text(node):
                return path, HALF_SURROGATE
        elif isinstance(node, float) and not math.isfinite(node):
            return path, f"{node} is not a JSON number"
        elif not (node is None or isinstance(node, bool | int | float)):
            return path, f"a {type(node).__name__} is not JSON; quote it to make it a string"
    return None


HALF_SURROGATE = "holds half of a UTF-16 surrogate pair; write the character itself"


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def content_revision(body: dict[str, Any]) -> str:
    """A digest of the template's meaning, stable across replicas, re-lists and key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _check_names(parts: dict[str, Any], fail: Any) -> None:
    seen: dict[str, str] = {}
    for field in ("containers", "initContainers", "volumes"):
        group = "volume" if field == "volumes" else "container"
        for index, item in enumerate(parts[field]):
            name = item.get("name")  # the schema lets a null through
            if not isinstance(name, str) or not _DNS_LABEL.match(name) or len(name) > 63:
                raise fail(f"{field}[{index}].name", f"{name!r} is not a valid DNS-1123 label")
            if f"{group}:{name}" in seen:
                raise fail(f"{field}[{index}].name", f"duplicate {group} name {name!r}")
            seen[f"{group}:{name}"] = field
    for index, item in enumerate(parts["imagePullSecrets"]):
        if not item.get("name"):  # optional in the schema, but a reference to nothing is a mistake
            raise fail(f"imagePullSecrets[{index}].name", "an image pull secret needs a name")
    for field in ("containers", "initContainers"):
        for index, item in enumerate(parts[field]):
            if not item.get("image"):
                raise fail(f"{field}[{index}].image", "an injected container needs an image")
    for field, key in (("env", "name"), ("volumeMounts", "mountPath")):
        keys = [item.get(key) for item in parts[field]]
        for index, value in enumerate(keys):
            if not isinstance(value, str) or not value:
                raise fail(f"{field}[{index}].{key}", "expected a non-empty string")
            if value in keys[:index]:
                raise fail(f"{field}[{index}].{key}", f"duplicate {key} {value!r}")


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if not isinstance(exc, yaml.YAMLError):
        problem = f"{type(exc).__name__}: {problem}"
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else str(problem)
