"""What a salesforce mutation config does that a template of ours cannot, each with what is done instead."""

from __future__ import annotations

from typing import Any, Protocol

from webhook.convert.items import ConfigProblem, optional_bool, string_list
from webhook.convert.names import quote


class PickedItems(Protocol):
    def names(self, field_name: str) -> list[str]: ...


class TriggerLike(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def template(self) -> str: ...


def losses(mutation: dict[str, Any], picked: PickedItems) -> list[str]:
    found = []
    before = [
        name
        for name in string_list(mutation, "initContainersBeforePodInitContainers")
        if name in picked.names("initContainers")
    ]
    if before:
        found.append(
            f"init containers {', '.join(map(quote, before))} are appended after the workload's own init "
            "containers instead of before them (initContainersBeforePodInitContainers)"
        )
    if picked.names("volumeMounts"):
        found.append(
            "volumeMounts are added to the workload's app containers, not to its own init containers as "
            "salesforce did"
        )
    lifecycle = optional_bool(mutation, "implementsSidecarLifecycle")
    if picked.names("containers") and not lifecycle:
        found.append(
            "salesforce left these sidecars out of pods whose restartPolicy is not Always (a Job's); the "
            "template injects them wherever it is asked for: do not request it from Jobs, or set "
            "nativeSidecars: true"
        )
    if lifecycle:
        found.append(
            "implementsSidecarLifecycle: the sidecar-lifecycle volume salesforce mounted into Job pods is "
            "not imported; nativeSidecars: true (Kubernetes 1.29+) lets Jobs complete without it"
        )
    mounts = volume_mount_annotations(mutation, "<annotationNamespace>")
    if mounts:
        found.append(
            "annotationConfig not imported: a template cannot add mounts read from a pod annotation at "
            "admission; add them to the template or to the workloads"
        )
    ignored = string_list(mutation, "ignoreNamespaces")
    if ignored:
        found.append(
            f"ignoreNamespaces {', '.join(map(quote, ignored))} not imported: a template serves every "
            "namespace that asks for it; keep those out with the webhook's namespaceSelector"
        )
    if string_list(mutation, "whitelistNamespaces"):
        found.append("whitelistNamespaces ignored: salesforce's injector never reads it either")
    return found


def volume_mount_annotations(mutation: dict[str, Any], namespace: str) -> list[str]:
    """The pod annotations ``annotationConfig.volumeMounts`` reads mounts from."""
    config = mutation.get("annotationConfig")
    if config is None:
        return []
    mounts = config.get("volumeMounts") if isinstance(config, dict) else None
    if mounts is None:
        return []
    if not isinstance(mounts, list) or not all(
        isinstance(m, dict) and isinstance(m.get("name"), str) for m in mounts
    ):
        raise ConfigProblem("annotationConfig.volumeMounts", "expected a list of objects with a name")
    return [f"{namespace}/{m['name']}" for m in mounts]


def shared_status(trigger: TriggerLike, first: str) -> str:
    return (
        f"shares its annotationNamespace (and so its status annotation) with template {first}: for a pod "
        f"that asks for both, salesforce injected only the first, and rewritten workloads ask for the "
        f"first only "
        f"({trigger.key} is left as is)"
    )
