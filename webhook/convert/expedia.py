"""ExpediaGroup/kubernetes-sidecar-injector ConfigMaps as our templates: one template per ConfigMap.

Facts from its README, chart and sources (pkg/handler.go, cmd/root.go): a pod asks with the
annotation ``sidecar-injector.expedia.com/inject: "a, b"`` (prefix and name are flags), each name a
ConfigMap in the pod's own namespace whose key ``sidecars.yaml`` lists sidecars: ``name``,
``initContainers``, ``containers``, ``volumes``, ``imagePullSecrets`` (all appended), ``annotations``
and ``labels`` (added when absent; a flag lets them override). The webhook is not called for pods
labelled ``<prefix>/inject: skip`` or ``<prefix>/disable-inject: "true"``. It keeps no status: each
admission injects again.

A ConfigMap serves its own namespace only, so each template keeps the ConfigMap's namespace: served
by ``serve --kube --watch-namespace NS`` (or ``--watch-all-namespaces``) to workloads there only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.convert.items import ConfigProblem, object_list, string_map, template_body
from webhook.convert.model import (
    AnnotationRewrite,
    Conversion,
    ConversionError,
    ImportedTemplate,
    ImportWarning,
    Translation,
)
from webhook.convert.names import NameRegistry, quote, to_label
from webhook.convert.reading import (
    Inputs,
    SourceDocument,
    configmap_data,
    configmap_name,
    configmap_namespace,
)
from webhook.core import InjectionPolicy

DEFAULT_PREFIX = "sidecar-injector.expedia.com"
DATA_KEY = "sidecars.yaml"
SIDECAR_FIELDS = (
    "name",
    "initContainers",
    "containers",
    "volumes",
    "imagePullSecrets",
    "annotations",
    "labels",
)
LISTS = ("initContainers", "containers", "volumes", "imagePullSecrets")
OURS = InjectionPolicy().inject_annotation


def convert(inputs: Inputs, prefix: str | None) -> Conversion:
    prefix = prefix or DEFAULT_PREFIX
    if inputs.plain:
        raise ConversionError(
            inputs.plain[0].origin,
            f"not an Expedia sidecar ConfigMap (a ConfigMap whose key {DATA_KEY} lists sidecars)",
        )
    warnings: list[ImportWarning] = []
    templates: list[ImportedTemplate] = []
    registries: dict[str | None, NameRegistry] = {}
    names: dict[str, str] = {}
    failed: set[str] = set()
    for document in inputs.configmaps:
        data, name = configmap_data(document), configmap_name(document)
        if DATA_KEY not in data or name is None:
            why = f"no key {DATA_KEY}" if DATA_KEY not in data else "no name, so no pod can ask for it"
            warnings.append(
                ImportWarning(document.origin, f"{why}: not an Expedia sidecar ConfigMap; ignored")
            )
            continue
        origin = f"{document.origin} key {quote(DATA_KEY)}"
        try:
            body = _merged(inputs.loader.load(origin, data[DATA_KEY]), origin, warnings)
        except ConfigProblem as exc:
            warnings.append(ImportWarning(origin, f"not imported: {exc}"))
            body = None
        if body is None:
            failed.add(name)
            continue
        label = _label(document, name, registries, warnings)
        names.setdefault(name, label)
        namespace = _namespace(document, warnings)
        templates.append(ImportedTemplate(label, body, origin, name, namespace))
    return Conversion(tuple(templates), tuple(warnings), Requests(prefix, names, failed))


def _label(
    document: SourceDocument,
    name: str,
    registries: dict[str | None, NameRegistry],
    warnings: list[ImportWarning],
) -> str:
    """ConfigMap names may hold dots; labels may not. Names are unique per namespace only."""
    registry = registries.setdefault(configmap_namespace(document), NameRegistry())
    label, taken_by = registry.claim(to_label(name) or "sidecars", name)
    if label != name:
        clash = f", as {quote(taken_by)} holds {to_label(name)}" if taken_by else ""
        warnings.append(
            ImportWarning(
                document.origin, f"served as template {label}{clash} (template names are DNS labels)"
            )
        )
    return label


def _namespace(document: SourceDocument, warnings: list[ImportWarning]) -> str | None:
    namespace = configmap_namespace(document)
    if namespace is not None and to_label(namespace) != namespace:
        warnings.append(
            ImportWarning(document.origin, f"namespace {quote(namespace)} is no namespace name; left out")
        )
        return None
    return namespace


def _merged(sidecars: Any, origin: str, warnings: list[ImportWarning]) -> dict[str, Any] | None:
    """All sidecars of the list in one template body; None (with a warning) when there are none."""
    if sidecars is None or sidecars == []:
        warnings.append(ImportWarning(origin, "lists no sidecar, so Expedia injects nothing; not imported"))
        return None
    if not isinstance(sidecars, list) or not all(isinstance(s, dict) for s in sidecars):
        raise ConfigProblem(DATA_KEY, "expected a list of sidecars")
    lists: dict[str, list[dict[str, Any]]] = {field: [] for field in LISTS}
    maps: dict[str, dict[str, str]] = {"annotations": {}, "labels": {}}
    for index, sidecar in enumerate(sidecars):
        unknown = sorted(k for k in sidecar if isinstance(k, str) and k not in SIDECAR_FIELDS)
        if unknown:
            warnings.append(
                ImportWarning(
                    origin,
                    f"[{index}]: unknown fields ignored, as Expedia ignores them: {', '.join(unknown)}",
                )
            )
        for field in LISTS:
            lists[field].extend(object_list(sidecar, field))
        for field, entries in maps.items():
            for key, value in string_map(sidecar, field).items():
                if key in entries and entries[key] != value:
                    warnings.append(
                        ImportWarning(
                            origin,
                            f"[{index}]: {field} {quote(key)} set by an earlier sidecar too; the first "
                            "value wins, as in Expedia",
                        )
                    )
                entries.setdefault(key, value)
    return template_body(**lists, **maps)


class Requests:
    """``sidecar-injector.expedia.com/inject: "a, b"`` in our terms."""

    def __init__(self, prefix: str, names: Mapping[str, str], failed: set[str]) -> None:
        self.prefix = prefix
        self.key = f"{prefix}/inject"
        self.names = names
        self.failed = failed - set(names)

    def generic_rewrites(self) -> list[AnnotationRewrite]:
        return [AnnotationRewrite(self.key, name, OURS, label) for name, label in self.names.items()]

    def translate(self, annotations: Mapping[str, str], labels: Mapping[str, str]) -> Translation:
        notes = [
            f"{key} is not an opt-in annotation; left as is (Expedia's first releases passed such "
            "annotations to the sidecars as env)"
            for key in annotations
            if key.startswith(f"{self.prefix}/") and key != self.key
        ]
        requested = annotations.get(self.key)
        if requested is None:
            return Translation(notes=tuple(notes))
        if labels.get(self.key) == "skip" or labels.get(f"{self.prefix}/disable-inject") == "true":
            notes.append("labelled to skip injection, so Expedia injected nothing; left as is")
            return Translation(notes=tuple(notes))
        names = []
        for part in (p.strip() for p in requested.split(",")):
            if not part:
                continue
            known = self.names.get(part)
            if part in self.failed:
                notes.append(f"asks for {quote(part)}, which was not imported (see above); dropped")
                continue
            if known is None:
                notes.append(
                    f"asks for {quote(part)}, which none of the files given defines; rewritten to "
                    f"{to_label(part)} all the same"
                )
            label = known or to_label(part)
            if label:
                names.append(label)
        return Translation((self.key,), tuple(dict.fromkeys(names)), tuple(notes))
