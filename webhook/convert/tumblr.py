"""tumblr/k8s-sidecar-injector configurations as our templates.

Facts from its docs/sidecar-configuration-format.md, docs/configmaps.md and sources: a configuration
is YAML with ``name`` (``name`` or ``name:version``, version ``latest`` when left out, compared in
lower case), ``containers``, ``initContainers``, ``volumes``, ``env`` and ``volumeMounts`` (added to
every container of the pod, the injected ones too, unless the container has one of that name),
``hostAliases``, ``hostNetwork``, ``hostPID``, ``serviceAccountName``, ``prependContainers`` and
``inherits`` (files only). It comes from a file of the ``--config-directory`` (one configuration per
file) or from a key of a ConfigMap (several per ConfigMap). A pod asks for one configuration with
``injector.tumblr.com/request: name[:version]``; the injector then marks it
``injector.tumblr.com/status: injected`` and skips pods so marked (``tumblr_requests``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.convert import tumblr_inherits
from webhook.convert.items import (
    ConfigProblem,
    object_list,
    optional_bool,
    optional_string,
    template_body,
    with_pod_defaults,
)
from webhook.convert.model import Conversion, ConversionError, ImportedTemplate, ImportWarning
from webhook.convert.names import NameRegistry, quote
from webhook.convert.reading import Inputs, SourceDocument, configmap_data
from webhook.convert.tumblr_requests import INJECTED, Requests, full_name, label_for, split_name

DEFAULT_PREFIX = "injector.tumblr.com"
FIELDS = frozenset(
    {
        "name",
        "inherits",
        "containers",
        "initContainers",
        "volumes",
        "env",
        "volumeMounts",
        "hostAliases",
        "hostNetwork",
        "hostPID",
        "serviceAccountName",
        "prependContainers",
    }
)
ENV_AND_MOUNTS = (
    "env and volumeMounts are added to the workload's app containers and to this template's own "
    "containers, but not to the workload's own init containers as tumblr did"
)
LOST_FLAGS = {
    "hostNetwork": "a template cannot put a pod on the node's network; the pod keeps its own setting",
    "hostPID": "a template cannot share the node's process namespace; the pod keeps its own setting",
}


@dataclass(frozen=True, slots=True)
class Source:
    """One configuration as read: where it is, its body, and its file when it came from one."""

    origin: str
    body: dict[str, Any]
    file: str | None


def convert(inputs: Inputs, prefix: str | None) -> Conversion:
    prefix = prefix or DEFAULT_PREFIX
    warnings: list[ImportWarning] = []
    chosen = _by_full_name(_sources(inputs, warnings), warnings)
    registry, templates, failed = NameRegistry(), [], set()
    labels: dict[str, str] = {}
    shown: dict[str, tuple[str, str]] = {}
    for key, (source, body, name, version) in chosen.items():
        try:
            label = _label(registry, key, name, version, source.origin, warnings)
            templates.append(_template(source, body, label, key, prefix, warnings))
        except ConfigProblem as exc:
            warnings.append(ImportWarning(source.origin, f"not imported: {exc}"))
            failed.add(key)
            continue
        labels[key], shown[key] = label, (name, version)
    return Conversion(tuple(templates), tuple(warnings), Requests(prefix, labels, shown, failed))


def _label(
    registry: NameRegistry, key: str, name: str, version: str, origin: str, warnings: list[ImportWarning]
) -> str:
    label, taken_by = registry.claim(label_for(name, version) or "", key)
    if not label:
        raise ConfigProblem("name", f"{quote(name)} has no letter or digit to make a template name of")
    if taken_by is not None:
        warnings.append(
            ImportWarning(origin, f"{key} maps to the template name of {taken_by}; named {label} instead")
        )
    return label


Chosen = dict[str, tuple["Source", dict[str, Any], str, str]]


def _by_full_name(sources: list[Source], warnings: list[ImportWarning]) -> Chosen:
    """Each configuration resolved, by its full name; a later one of the same name replaces an
    earlier one, as in tumblr's map of configurations."""
    files = {tumblr_inherits.clean(s.file): s.body for s in sources if s.file is not None}
    chosen: Chosen = {}
    for source in sources:
        try:
            resolved = _resolved(source, files, warnings)
            name, version = _name(resolved)
        except ConfigProblem as exc:
            warnings.append(ImportWarning(source.origin, f"not imported: {exc}"))
            continue
        key = full_name(name, version)
        if key in chosen:
            earlier = chosen[key][0].origin
            warnings.append(
                ImportWarning(
                    source.origin,
                    f"{key} is also defined by {earlier}; this later one is used, as tumblr keeps the last",
                )
            )
        chosen[key] = (source, resolved, name, version)
    return chosen


def _sources(inputs: Inputs, warnings: list[ImportWarning]) -> list[Source]:
    """Every configuration of the input: the first document of each file, each key of a ConfigMap."""
    sources: list[Source] = []
    seen_files: set[str] = set()
    for document in inputs.plain:
        if not FIELDS & set(document.body):
            raise ConversionError(
                document.origin, f"not a tumblr sidecar configuration (none of {', '.join(sorted(FIELDS))})"
            )
        if document.file in seen_files:
            warnings.append(
                ImportWarning(document.origin, "ignored: tumblr reads only the first YAML document of a file")
            )
            continue
        seen_files.add(document.file)
        sources.append(Source(document.origin, document.body, document.file))
    for document in inputs.configmaps:
        sources.extend(_configmap_sources(inputs, document, warnings))
    return sources


def _configmap_sources(
    inputs: Inputs, document: SourceDocument, warnings: list[ImportWarning]
) -> list[Source]:
    found = []
    for key, text in configmap_data(document).items():
        origin = f"{document.origin} key {quote(key)}"
        try:
            body = inputs.loader.load(origin, text)
        except ConfigProblem as exc:
            warnings.append(ImportWarning(origin, f"not a tumblr sidecar configuration ({exc}); ignored"))
            continue
        if isinstance(body, dict) and FIELDS & set(body):
            found.append(Source(origin, body, None))
        else:
            warnings.append(ImportWarning(origin, "not a tumblr sidecar configuration; ignored"))
    return found


def _resolved(
    source: Source, files: Mapping[str, Mapping[str, Any]], warnings: list[ImportWarning]
) -> dict[str, Any]:
    unknown = sorted(k for k in source.body if isinstance(k, str) and k not in FIELDS)
    if unknown:
        warnings.append(
            ImportWarning(
                source.origin, f"unknown fields ignored, as tumblr ignores them: {', '.join(unknown)}"
            )
        )
    if source.file is None:
        if source.body.get("inherits"):
            warnings.append(
                ImportWarning(
                    source.origin,
                    "inherits ignored: tumblr resolves it only for configuration files, not ConfigMaps",
                )
            )
        return dict(source.body)
    return tumblr_inherits.resolve(source.file, source.body, files)


def _name(body: Mapping[str, Any]) -> tuple[str, str]:
    text = optional_string(body, "name")
    if not text:
        raise ConfigProblem("name", "missing (tumblr refuses such a configuration too)")
    parsed = split_name(text)
    if parsed is None:
        raise ConfigProblem("name", f"{quote(text)} is neither name nor name:version")
    return parsed


def _template(
    source: Source, body: dict[str, Any], label: str, key: str, prefix: str, warnings: list[ImportWarning]
) -> ImportedTemplate:
    env, mounts = object_list(body, "env"), object_list(body, "volumeMounts")
    containers = [with_pod_defaults(c, env, mounts, "name") for c in object_list(body, "containers")]
    inits = [with_pod_defaults(c, env, mounts, "name") for c in object_list(body, "initContainers")]
    warnings.extend(ImportWarning(source.origin, message) for message in _losses(body, bool(env or mounts)))
    template = template_body(
        containers=containers,
        initContainers=inits,
        volumes=object_list(body, "volumes"),
        volumeMounts=mounts,
        env=env,
        # Marks the pod as tumblr marks it, so a tumblr injector still registered beside ours skips it.
        annotations={f"{prefix}/status": INJECTED},
    )
    return ImportedTemplate(label, template, source.origin, key)


def _losses(body: Mapping[str, Any], adds_env_or_mounts: bool) -> list[str]:
    losses = []
    if object_list(body, "hostAliases"):
        losses.append(
            "hostAliases not imported: a template cannot add pod-level /etc/hosts entries; "
            "add them to the workloads (spec.hostAliases) that need them"
        )
    for flag, why in LOST_FLAGS.items():
        if optional_bool(body, flag):
            losses.append(f"{flag}: true not imported: {why}")
    account = optional_string(body, "serviceAccountName")
    if account:
        losses.append(
            f"serviceAccountName {quote(account)} not imported: a template cannot set the pod's service "
            "account; set it on the workloads (tumblr set it where none or 'default' was set)"
        )
    if optional_bool(body, "prependContainers"):
        losses.append(
            "prependContainers: the sidecars are appended after the app's containers instead; "
            "set nativeSidecars: true (Kubernetes 1.29+) to start them before the app"
        )
    if adds_env_or_mounts:
        losses.append(ENV_AND_MOUNTS)
    return losses
