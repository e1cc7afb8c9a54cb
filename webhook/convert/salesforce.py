"""salesforce/generic-sidecar-injector configurations as our templates: one per mutation config.

Facts from its README and sources (pkg/mutationconfig, pkg/sidecarconfig, pkg/injectionwebhook):
``sidecarconfig.yaml`` lists ``initContainers``, ``containers``, ``volumes`` and ``volumeMounts``
(a Go template with ``{% %}`` delimiters, rendered over each pod); ``mutationconfig.yaml`` lists
``mutationConfigs``, each picking items of the sidecar config by name and triggered by the pod
annotation ``<annotationNamespace>/<annotationTrigger>`` set to ``true`` or ``enabled``. Each one
appends its init containers (or prepends those in ``initContainersBeforePodInitContainers``), its
containers (not into pods whose restartPolicy is not Always, unless ``implementsSidecarLifecycle``),
its volumes (the pod's of the same name win), adds its volumeMounts to the pod's containers and init
containers that lack one of that name, and marks the pod ``<annotationNamespace>/status: injected``.
The injector's Helm chart keeps both files in one ConfigMap under those two keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.convert import salesforce_lossy
from webhook.convert.gotemplate import Expressions, untranslated
from webhook.convert.items import ConfigProblem, optional_string, template_body
from webhook.convert.model import (
    AnnotationRewrite,
    Conversion,
    ConversionError,
    ImportedTemplate,
    ImportWarning,
    Translation,
)
from webhook.convert.names import NameRegistry, quote, to_label
from webhook.convert.reading import Inputs, configmap_data
from webhook.convert.salesforce_items import SidecarConfig, pick
from webhook.core import InjectionPolicy

SIDECAR_KEY = "sidecarconfig.yaml"
MUTATION_KEY = "mutationconfig.yaml"
ENABLED = ("true", "enabled")
INJECTED = "injected"
OURS = InjectionPolicy().inject_annotation
MUTATION_FIELDS = frozenset(
    {
        "name",
        "annotationNamespace",
        "annotationTrigger",
        "annotationConfig",
        "initContainersBeforePodInitContainers",
        "initContainers",
        "containers",
        "volumes",
        "volumeMounts",
        "ignoreNamespaces",
        "whitelistNamespaces",
        "implementsSidecarLifecycle",
    }
)


@dataclass(frozen=True, slots=True)
class Trigger:
    """How a pod asks for one mutation config, and the template that now serves it."""

    namespace: str
    trigger: str
    template: str
    volume_mount_annotations: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.trigger}"

    @property
    def status_key(self) -> str:
        return f"{self.namespace}/status"


def convert(inputs: Inputs, expressions: Expressions) -> Conversion:
    sidecars, mutations = _files(inputs)
    warnings: list[ImportWarning] = [ImportWarning(sidecars.origin, w) for w in sidecars.warnings]
    registry, templates, triggers = NameRegistry(), [], []
    failed: list[str] = []
    namespaces: dict[str, str] = {}
    for index, mutation in enumerate(_mutation_list(mutations)):
        origin = f"{mutations.origin}: mutationConfigs[{index}]"
        if isinstance(mutation.get("name"), str):
            origin += f" {quote(mutation['name'])}"
        try:
            template, trigger = _template(origin, mutation, sidecars, expressions, registry, warnings)
        except ConfigProblem as exc:
            warnings.append(ImportWarning(origin, f"not imported: {exc}"))
            failed.extend(_trigger_key(mutation))
            continue
        if trigger.namespace in namespaces:
            warnings.append(
                ImportWarning(origin, salesforce_lossy.shared_status(trigger, namespaces[trigger.namespace]))
            )
        namespaces.setdefault(trigger.namespace, template.name)
        templates.append(template)
        triggers.append(trigger)
    return Conversion(tuple(templates), tuple(warnings), Requests(triggers, failed))


@dataclass(frozen=True, slots=True)
class Document:
    origin: str
    body: Any


def _files(inputs: Inputs) -> tuple[SidecarConfig, Document]:
    """The one sidecar config and the one mutation config of the input (the injector takes one each)."""
    sidecar_docs: list[Document] = []
    mutation_docs: list[Document] = []
    for document in inputs.plain:
        if "mutationConfigs" in document.body:
            mutation_docs.append(Document(document.origin, document.body))
        elif {"containers", "initContainers", "volumes", "volumeMounts"} & set(document.body):
            sidecar_docs.append(Document(document.origin, document.body))
        else:
            raise ConversionError(
                document.origin, "neither a salesforce sidecarconfig.yaml nor a mutationconfig.yaml"
            )
    for document in inputs.configmaps:
        data = configmap_data(document)
        for key, found in ((SIDECAR_KEY, sidecar_docs), (MUTATION_KEY, mutation_docs)):
            if key in data:
                origin = f"{document.origin} key {quote(key)}"
                try:
                    found.append(Document(origin, inputs.loader.load(origin, data[key])))
                except ConfigProblem as exc:
                    raise ConversionError(origin, str(exc)) from exc
        if not {SIDECAR_KEY, MUTATION_KEY} & set(data):
            inputs.warnings.append(
                ImportWarning(document.origin, f"has neither {SIDECAR_KEY} nor {MUTATION_KEY}; ignored")
            )
    for what, found in (("sidecar config", sidecar_docs), ("mutation config", mutation_docs)):
        if len(found) > 1:
            listed = ", ".join(d.origin for d in found)
            raise ConversionError("", f"the injector reads one {what}, and {len(found)} were given: {listed}")
    if not sidecar_docs or not mutation_docs:
        missing = SIDECAR_KEY if not sidecar_docs else MUTATION_KEY
        raise ConversionError(
            "", f"no {missing} among the files given: salesforce's injector needs both files"
        )
    sidecar = sidecar_docs[0]
    return SidecarConfig.read(sidecar.origin, sidecar.body), mutation_docs[0]


def _mutation_list(document: Document) -> list[dict[str, Any]]:
    body = document.body
    items = body.get("mutationConfigs") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConversionError(document.origin, "mutationConfigs: expected a list of mutation configs")
    return items


def _template(
    origin: str,
    mutation: dict[str, Any],
    sidecars: SidecarConfig,
    expressions: Expressions,
    registry: NameRegistry,
    warnings: list[ImportWarning],
) -> tuple[ImportedTemplate, Trigger]:
    namespace = optional_string(mutation, "annotationNamespace")
    trigger = optional_string(mutation, "annotationTrigger")
    if not namespace or not trigger:
        raise ConfigProblem(
            "annotationNamespace", "no annotationNamespace or annotationTrigger: no pod can ask for it"
        )
    source_name = optional_string(mutation, "name") or f"{namespace}/{trigger}"
    label, taken_by = registry.claim(to_label(source_name) or "mutation", source_name)
    if taken_by is not None:
        warnings.append(
            ImportWarning(
                origin,
                f"{quote(source_name)} maps to the template name of {quote(taken_by)}; named {label} instead",
            )
        )
    picked = pick(sidecars, mutation, warnings, origin)
    picked.convert_pod_data(expressions, warnings, origin)
    left = untranslated(picked.fields()) if expressions.found else []
    if left:
        shown = "; ".join(f"{where}: {quote(expressions.restore(text))}" for where, text in left[:5])
        raise ConfigProblem(
            "",
            f"reads the pod where a template cannot (only whole env values map to the downward API): {shown}",
        )
    warnings.extend(ImportWarning(origin, w) for w in salesforce_lossy.losses(mutation, picked))
    unknown = sorted(k for k in mutation if isinstance(k, str) and k not in MUTATION_FIELDS)
    if unknown:
        warnings.append(
            ImportWarning(origin, f"unknown fields ignored, as salesforce ignores them: {', '.join(unknown)}")
        )
    body = template_body(**picked.fields(), annotations={f"{namespace}/status": INJECTED})
    mounts = tuple(salesforce_lossy.volume_mount_annotations(mutation, namespace))
    return ImportedTemplate(label, body, origin, source_name), Trigger(namespace, trigger, label, mounts)


def _trigger_key(mutation: Mapping[str, Any]) -> list[str]:
    namespace, trigger = mutation.get("annotationNamespace"), mutation.get("annotationTrigger")
    return [f"{namespace}/{trigger}"] if isinstance(namespace, str) and isinstance(trigger, str) else []


class Requests:
    """``<annotationNamespace>/<annotationTrigger>: "true"`` (or ``enabled``) in our terms."""

    def __init__(self, triggers: list[Trigger], failed: list[str]) -> None:
        self.triggers = triggers
        self.failed = failed

    def generic_rewrites(self) -> list[AnnotationRewrite]:
        return [AnnotationRewrite(t.key, value, OURS, t.template) for t in self.triggers for value in ENABLED]

    def translate(self, annotations: Mapping[str, str], labels: Mapping[str, str]) -> Translation:
        removed: list[str] = []
        names: list[str] = []
        notes: list[str] = []
        stopped: set[str] = set()  # annotation namespaces whose status says injected
        notes.extend(
            f"{key} asks for a mutation config that was not imported (see above); left as is"
            for key in self.failed
            if annotations.get(key) in ENABLED
        )
        for trigger in self.triggers:
            value = annotations.get(trigger.key)
            if value is None:
                continue
            if value not in ENABLED:
                notes.append(
                    f"{trigger.key}: {quote(value)} is neither true nor enabled, so salesforce injected "
                    "nothing; left as is"
                )
                continue
            if annotations.get(trigger.status_key, "").lower() == INJECTED or trigger.namespace in stopped:
                notes.append(
                    f"{trigger.status_key} says injected, so salesforce skipped {trigger.template}; "
                    "left as is"
                )
                continue
            removed.append(trigger.key)
            names.append(trigger.template)
            stopped.add(trigger.namespace)
            notes.extend(
                f"{key} is read by salesforce at admission to add mounts; not imported: add them to "
                "the workload"
                for key in trigger.volume_mount_annotations
                if key in annotations
            )
        return Translation(tuple(dict.fromkeys(removed)), tuple(names), tuple(notes))
