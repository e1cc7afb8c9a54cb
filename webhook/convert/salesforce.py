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
from dataclasses import replace
from typing import Any

from webhook.convert import salesforce_lossy
from webhook.convert.gotemplate import Expressions, untranslated
from webhook.convert.items import ConfigProblem, template_body
from webhook.convert.model import Conversion, ImportedTemplate, ImportWarning
from webhook.convert.names import NameRegistry, quote
from webhook.convert.reading import Inputs
from webhook.convert.salesforce_files import MUTATION_KEY, SIDECAR_KEY, configuration, mutation_list
from webhook.convert.salesforce_items import SidecarConfig, pick
from webhook.convert.salesforce_requests import INJECTED, Requests, Trigger, claim

__all__ = ["MUTATION_FIELDS", "MUTATION_KEY", "SIDECAR_KEY", "convert"]

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


def convert(inputs: Inputs, expressions: Expressions) -> Conversion:
    sidecars, mutations = configuration(inputs)
    warnings: list[ImportWarning] = [ImportWarning(sidecars.origin, w) for w in sidecars.warnings]
    registry, templates, triggers = NameRegistry(), [], []
    failed: list[str] = []
    namespaces: dict[str, str] = {}
    for index, mutation in enumerate(mutation_list(mutations)):
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


def _template(
    origin: str,
    mutation: dict[str, Any],
    sidecars: SidecarConfig,
    expressions: Expressions,
    registry: NameRegistry,
    warnings: list[ImportWarning],
) -> tuple[ImportedTemplate, Trigger]:
    trigger, source_name = claim(mutation, registry, origin, warnings)
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
    body = template_body(**picked.fields(), annotations={trigger.status_key: INJECTED})
    mounts = tuple(salesforce_lossy.volume_mount_annotations(mutation, trigger.namespace))
    template = ImportedTemplate(trigger.template, body, origin, source_name)
    return template, replace(trigger, volume_mount_annotations=mounts)


def _trigger_key(mutation: Mapping[str, Any]) -> list[str]:
    namespace, trigger = mutation.get("annotationNamespace"), mutation.get("annotationTrigger")
    return [f"{namespace}/{trigger}"] if isinstance(namespace, str) and isinstance(trigger, str) else []
