"""How a pod asked salesforce for a mutation config, and the template name that answers it now.

Each mutation config declares its own trigger, ``<annotationNamespace>/<annotationTrigger>``, set to
``true`` or ``enabled``; a pod marked ``<annotationNamespace>/status: injected`` is skipped (so is a
second mutation config of the same annotation namespace, once the first injected). The template is
named after the mutation config's ``name`` (or its trigger), in the order the mutation configs are
listed: ``claim`` is the one place that names it, for ``import`` and for ``--accept-annotations``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.convert.items import ConfigProblem, optional_string
from webhook.convert.model import AnnotationRewrite, ImportWarning, Translation
from webhook.convert.names import NameRegistry, quote, to_label
from webhook.convert.salesforce_files import Document, mutation_list
from webhook.core import InjectionPolicy

ENABLED = ("true", "enabled")
INJECTED = "injected"
OURS = InjectionPolicy().inject_annotation


@dataclass(frozen=True, slots=True)
class Trigger:
    """How a pod asks for one mutation config, and the template that now serves it."""

    namespace: str
    trigger: str
    template: str
    volume_mount_annotations: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.trigger}"

    @property
    def status_key(self) -> str:
        return f"{self.namespace}/status"


def claim(
    mutation: Mapping[str, Any], registry: NameRegistry, origin: str, warnings: list[ImportWarning]
) -> tuple[Trigger, str]:
    """The trigger of one mutation config and its source name, its template name claimed in
    ``registry``; raises ConfigProblem when it has no trigger (no pod can ask for it)."""
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
    return Trigger(namespace, trigger, label), source_name


def triggers_of(document: Document) -> Requests:
    """The requests of a mutation config read alone (``--accept-annotations salesforce=PATH``).

    Every mutation config with a trigger claims its name in order, as ``convert`` claims it whether
    it imports that config or not, so the names are the templates ``import`` made. One that the
    import could not make is asked for all the same: the template is missing, and the webhook's
    missing-template policy decides, as it does for any request naming no template.
    """
    registry = NameRegistry()
    triggers = []
    for mutation in mutation_list(document):
        try:
            triggers.append(claim(mutation, registry, document.origin, [])[0])
        except ConfigProblem:
            continue  # the import skips it too: no pod can ask for it
    return Requests(triggers, [])


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
