"""Pure: ConfigMap manifests in, validated core Templates (or TemplateErrors listing every problem) out.

Two formats are recognised:
- legacy Initializer: a ConfigMap named ``<name>-initializer`` whose key ``config`` holds YAML with
  ``containers``, ``initContainers`` and ``volumes``; it serves the template ``<name>``;
- native: a ConfigMap labelled ``sidecar-injector.io/template``; its key ``template`` holds one
  template (the fields below) and it serves the template named like the ConfigMap.

Every problem of a template is reported at once, each with its field path and line: in the file for
templates read from files (not counted from the ConfigMap key), in the key's text for the API.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from webhook.bounded_yaml import (
    TEMPLATE_LIMITS,
    YamlProblem,
    line_of,
    load_one,
)
from webhook.bounded_yaml import node_at as yaml_node_at
from webhook.core.model import (
    DEFAULT_ANNOTATION_PREFIX,
    INJECTION_MODES,
    UPDATE_POLICIES,
    InjectionMode,
    Template,
    UpdatePolicy,
)
from webhook.core.security import TemplateSecurityPolicy, policy_violations
from webhook.manifests import ManifestError, load_documents
from webhook.settings import DEFAULTS
from webhook.templates.container_rules import RuleOptions
from webhook.templates.controls import CONTROL_FIELDS, Controls, read_controls, with_variables
from webhook.templates.errors import Problem, TemplateError, show
from webhook.templates.findings import FieldPath, Findings, format_path, parse_path
from webhook.templates.k8s_formats import dns_label
from webhook.templates.schema import ITEM_SCHEMAS, schema_errors
from webhook.templates.template_rules import check_template

TEMPLATE_LABEL = f"{DEFAULT_ANNOTATION_PREFIX}/template"
NATIVE_KEY = "template"
LEGACY_SUFFIX = "-initializer"
LEGACY_KEY = "config"

LIST_FIELDS = tuple(ITEM_SCHEMAS)
MAP_FIELDS = ("annotations", "labels")
CHOICE_FIELDS: dict[str, tuple[str, ...]] = {"injection": INJECTION_MODES, "updatePolicy": UPDATE_POLICIES}
"""Fields that say how a template is applied, not what it injects: left out of its revision, so that
changing them makes no running workload outdated."""
KNOWN_FIELDS = frozenset({*LIST_FIELDS, *MAP_FIELDS, "nativeSidecars", *CONTROL_FIELDS, *CHOICE_FIELDS})
INT64 = range(-(2**63), 2**63)
HALF_SURROGATE = "holds half of a UTF-16 surrogate pair; write the character itself"


@dataclass(frozen=True, slots=True)
class TemplateDocument:
    """Where one template comes from: enough to name it, and its lines, in every message."""

    name: str
    namespace: str | None
    source: str
    key: str
    text: str
    file: str | None = None
    first_line: int | None = None  # the file line of the text's line 1 (a literal block scalar)
    key_line: int | None = None  # the file line of the key (other scalar styles)

    def line(self, text_line: int | None) -> int | None:
        """A line of ``text`` as a line of the file, or of the key's text when there is no file."""
        if self.file is None:
            return text_line
        if text_line is not None and self.first_line is not None:
            return self.first_line + text_line - 1
        return self.key_line


@dataclass(frozen=True, slots=True)
class ManifestFile:
    """The objects of a manifest file (``kind: List`` flattened), each with its YAML node."""

    objects: list[tuple[dict[str, Any], yaml.Node | None]]
    empty: bool  # no YAML document at all: whitespace, comments, ``---``


def read_manifests(text: str, file: str) -> ManifestFile:
    """The objects of a manifest file through the one manifest reader (webhook.manifests)."""
    try:
        documents = load_documents(text)
    except ManifestError as exc:
        raise TemplateError("", "", "", exc.problem, line=exc.line, file=file) from exc
    return ManifestFile([located for document in documents for located in document.located()], not documents)


def load_manifests(text: str, source: str) -> list[dict[str, Any]]:
    """Every object in a multi-document YAML file, with ``kind: List`` flattened."""
    return [obj for obj, _ in read_manifests(text, source).objects]


def template_documents(
    configmap: dict[str, Any],
    source: str,
    namespace: str | None,
    label: str = TEMPLATE_LABEL,
    *,
    node: yaml.Node | None = None,
    file: str | None = None,
) -> Iterator[TemplateDocument]:
    """The template documents a ConfigMap holds (none when it is not one of ours).

    ``node`` (the ConfigMap's YAML node) and ``file`` let problems name lines of the file.
    """
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
        served, key = name, NATIVE_KEY
    elif name.endswith(LEGACY_SUFFIX) and isinstance(data.get(LEGACY_KEY), str):
        served, key = name[: -len(LEGACY_SUFFIX)], LEGACY_KEY
    else:
        return
    value_node = yaml_node_at(node, ("data", key))
    literal = isinstance(value_node, yaml.ScalarNode) and value_node.style == "|"
    first_line = value_node.start_mark.line + 2 if literal and value_node is not None else None
    yield TemplateDocument(
        served, namespace, source, key, data[key], file, first_line, line_of(node, ("data", key))
    )


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
    kubernetes_version: str = DEFAULTS.kubernetes_version,
    security: TemplateSecurityPolicy | None = None,
) -> Template:
    """Validate one template document; raises a TemplateError listing every problem found.

    Templates from a tenant's namespace (``document.namespace`` set) must also meet the restricted
    Pod Security level, whatever the administrator's policy for cluster-wide templates says.
    """
    findings = Findings()
    if dns_label(document.name):
        findings.add((), f"template name {show(document.name)} is not a valid DNS-1123 label")
    try:
        loaded = load_one(document.text, TEMPLATE_LIMITS)
    except YamlProblem as exc:
        findings.add((), exc.message)
        raise _error(document, findings, None, exc.line) from exc
    body = loaded.value
    if not isinstance(body, dict):
        findings.add((), "expected a mapping with containers, initContainers, volumes, ...")
        raise _error(document, findings, loaded.node)
    check_json(body, (), findings)
    if findings:  # the rules below read these values as JSON
        raise _error(document, findings, loaded.node)
    # Checked with the variables' references in place: every place they may appear takes any string.
    unescaped, sites = with_variables(body, findings)
    parts = _parts(unescaped, findings, kubernetes_version)
    native = unescaped.get("nativeSidecars", False)
    _check_choices(unescaped, native, findings)
    controls = read_controls(unescaped, sites, findings)
    reported = {path for path, _ in findings.items}  # the schema's message is the one to keep
    rules = check_template(parts, native is True, RuleOptions.for_version(kubernetes_version))
    findings.items += [(path, message) for path, message in rules.items if path not in reported]
    if not findings and not any(parts.values()):
        findings.add((), "the template injects nothing")
    if findings:
        raise _error(document, findings, loaded.node)
    revision = content_revision({k: v for k, v in body.items() if k not in CHOICE_FIELDS})
    template = _template(document, revision, parts, native is True, controls, _choices(body, document))
    _check_security(template, document, security, findings)
    if findings:
        raise _error(document, findings, loaded.node)
    return template


def _check_security(
    template: Template,
    document: TemplateDocument,
    security: TemplateSecurityPolicy | None,
    findings: Findings,
) -> None:
    if document.namespace is not None:
        registries = security.allowed_registries if security else ()
        security = TemplateSecurityPolicy.restricted(registries)
    for violation in policy_violations(template, security) if security else ():
        findings.add(
            parse_path(violation.field), f"{violation.message}: forbidden by the template security policy"
        )


def _parts(body: dict[str, Any], findings: Findings, version: str) -> dict[str, Any]:
    """The template's fields as lists and maps (an unusable one reads as empty, with a finding)."""
    for field in sorted(set(body) - KNOWN_FIELDS):
        findings.add((field,), f"unknown field; expected one of {', '.join(sorted(KNOWN_FIELDS))}")
    parts: dict[str, Any] = {}
    for field in LIST_FIELDS:
        items = body.get(field) or []
        if not isinstance(items, list):
            findings.add((field,), "expected a list")
            items = []
        for path, message in schema_errors(field, items, version):
            findings.add(path, message)
        parts[field] = tuple(items)
    for field in MAP_FIELDS:
        entries = body.get(field) or {}
        if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
            findings.add((field,), "expected a map of strings to strings")
            entries = {}
        parts[field] = dict(entries)
    return parts


def _check_choices(body: dict[str, Any], native: object, findings: Findings) -> None:
    if not isinstance(native, bool):
        findings.add(("nativeSidecars",), "expected true or false")
    for choice, allowed in CHOICE_FIELDS.items():
        if choice in body and body[choice] not in allowed:
            findings.add((choice,), f"expected one of {', '.join(allowed)}")


def _choices(
    body: dict[str, Any], document: TemplateDocument
) -> tuple[InjectionMode | None, UpdatePolicy | None]:
    # Legacy Initializer templates inject into the workload unless they say otherwise: the seed's
    # behaviour, whatever the server's default for native templates.
    legacy_default: InjectionMode | None = "workload" if document.key == LEGACY_KEY else None
    return body.get("injection", legacy_default), body.get("updatePolicy")


def _template(
    document: TemplateDocument,
    revision: str,
    parts: dict[str, Any],
    native: bool,
    controls: Controls,
    choices: tuple[InjectionMode | None, UpdatePolicy | None],
) -> Template:
    injection, update_policy = choices
    return Template(
        name=document.name,
        revision=revision,
        injection=injection,
        update_policy=update_policy,
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
        target_containers=controls.target_containers,
        init_containers_first=controls.init_containers_first,
        overridable=controls.overridable,
        variables=controls.variables,
    )


def _error(
    document: TemplateDocument, findings: Findings, node: yaml.Node | None, line: int | None = None
) -> TemplateError:
    problems = [
        Problem(format_path(path), message, document.line(line if not path else line_of(node, path)))
        for path, message in findings.items
    ]
    problems.sort(key=lambda p: p.line or 0)  # stable: the order found, within a line
    origin = document.source
    if document.file and origin.startswith(f"{document.file}: "):
        origin = origin[len(document.file) + 2 :]  # the file leads every line already
    return TemplateError(origin, document.key, "", "", file=document.file, problems=problems)


def check_json(node: Any, path: FieldPath, findings: Findings) -> None:
    """Every value YAML can hold but a JSON patch cannot, or the API server would refuse.

    Template items go into patches verbatim, and orjson refuses non-string keys, integers past 64
    bits and half surrogate pairs (PyYAML decodes "\\ud83d\\ude00" to two of those), and writes
    null for .inf and .nan: each would fail or corrupt every injection of the template. The loader
    has bounded the tree (aliases expanded), so walking it as a tree is bounded too.
    """
    stack: list[tuple[FieldPath, Any]] = [(path, node)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if not isinstance(key, str):
                    findings.add(where, f"key {show(key)} is not a string")
                elif not _is_text(key):
                    findings.add(where, f"key {show(key)} {HALF_SURROGATE}")
                else:
                    stack.append(((*where, key), child))
        elif isinstance(value, list):
            stack.extend(((*where, index), child) for index, child in enumerate(value))
        elif isinstance(value, str):
            if not _is_text(value):
                findings.add(where, HALF_SURROGATE)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if value not in INT64:
                findings.add(
                    where, f"{show(value)} does not fit in 64 bits; write it as a string or with a suffix"
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                findings.add(where, f"{value} is not a JSON number")
        else:
            findings.add(where, f"a {type(value).__name__} is not JSON; quote it to make it a string")


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
