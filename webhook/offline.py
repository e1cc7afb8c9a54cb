"""Offline injection (``sidecar-injector inject``): manifests in, mutated manifests out, same core.

Like ``istioctl kube-inject``: for previews and GitOps pipelines. Each object is treated as a
CREATE in its own namespace (or the default given), exactly as the webhook would see it. Namespace
objects in the same stream supply their Pod Security labels, as the cluster's would to the webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonpatch
import yaml

from webhook.core import AdmissionFacts, InjectionPolicy, PatchOp, TemplateSet, mutate
from webhook.core.pod_security import enforced_level


class ManifestError(ValueError):
    """The input text cannot be read as manifests."""


@dataclass(frozen=True, slots=True)
class InjectedObject:
    original: dict[str, Any]
    mutated: dict[str, Any]
    patch: tuple[PatchOp, ...]
    warnings: tuple[str, ...]
    skip_reason: str | None


def inject_object(
    obj: dict[str, Any],
    templates: TemplateSet,
    policy: InjectionPolicy,
    namespace: str,
    pod_security_level: str | None = None,
) -> InjectedObject:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    facts = AdmissionFacts(
        uid="offline",
        operation="CREATE",
        kind=str(obj.get("kind", "")),
        namespace=str(metadata.get("namespace") or namespace),
        name=str(metadata.get("name") or ""),
        pod_security_level=pod_security_level,
    )
    result = mutate(obj, facts, templates, policy)
    mutated = jsonpatch.apply_patch(obj, list(result.patch)) if result.patch else obj
    return InjectedObject(obj, mutated, result.patch, result.warnings, result.skip_reason)


def inject_documents(
    text: str,
    templates: TemplateSet,
    policy: InjectionPolicy,
    namespace: str,
    default_level: str = "privileged",
) -> tuple[list[Any], list[InjectedObject]]:
    """Mutate every object in a multi-document YAML stream; ``kind: List`` items one by one.

    ``default_level`` is what namespaces enforce unless a Namespace in the stream says otherwise.
    """
    try:
        documents = list(yaml.safe_load_all(text))
    except Exception as exc:  # PyYAML also fails with ValueError, IndexError, RecursionError, ...
        raise ManifestError(f"the manifests are not valid YAML: {type(exc).__name__}: {exc}") from exc
    levels = _namespace_levels(documents, default_level)

    def inject(obj: dict[str, Any]) -> InjectedObject:
        metadata = obj.get("metadata")
        own = str((metadata.get("namespace") if isinstance(metadata, dict) else None) or namespace)
        return inject_object(obj, templates, policy, namespace, levels.get(own, default_level))

    outputs: list[Any] = []
    injected: list[InjectedObject] = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            items = []
            for item in document.get("items") or []:
                done = inject(item)
                injected.append(done)
                items.append(done.mutated)
            outputs.append({**document, "items": items})
        elif isinstance(document, dict):
            done = inject(document)
            injected.append(done)
            outputs.append(done.mutated)
        elif document is not None:
            outputs.append(document)
    return outputs, injected


def _namespace_levels(documents: list[Any], default_level: str) -> dict[str, str]:
    """Namespace name → enforced level, from the Namespace objects of the stream (Lists included)."""
    objects: list[Any] = []
    for document in documents:
        is_list = isinstance(document, dict) and document.get("kind") == "List"
        objects.extend((document.get("items") or []) if is_list else [document])
    levels = {}
    for obj in objects:
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if obj.get("kind") == "Namespace" and isinstance(metadata, dict) and metadata.get("name"):
            labels = metadata.get("labels")
            level = enforced_level(labels if isinstance(labels, dict) else None, default_level)
            levels[str(metadata["name"])] = level
    return levels


def dump_documents(documents: list[Any]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
