"""Offline injection (``sidecar-injector inject``): manifests in, mutated manifests out, same core.

Like ``istioctl kube-inject``: for previews and GitOps pipelines. Each object is treated as a
CREATE in its own namespace (or the default given), exactly as the webhook would see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonpatch
import yaml

from webhook.core import AdmissionFacts, InjectionPolicy, PatchOp, TemplateSet, mutate


@dataclass(frozen=True, slots=True)
class InjectedObject:
    original: dict[str, Any]
    mutated: dict[str, Any]
    patch: tuple[PatchOp, ...]
    warnings: tuple[str, ...]
    skip_reason: str | None


def inject_object(
    obj: dict[str, Any], templates: TemplateSet, policy: InjectionPolicy, namespace: str
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
    )
    result = mutate(obj, facts, templates, policy)
    mutated = jsonpatch.apply_patch(obj, list(result.patch)) if result.patch else obj
    return InjectedObject(obj, mutated, result.patch, result.warnings, result.skip_reason)


def inject_documents(
    text: str, templates: TemplateSet, policy: InjectionPolicy, namespace: str
) -> tuple[list[Any], list[InjectedObject]]:
    """Mutate every object in a multi-document YAML stream; ``kind: List`` items one by one."""
    outputs: list[Any] = []
    injected: list[InjectedObject] = []
    for document in yaml.safe_load_all(text):
        if isinstance(document, dict) and document.get("kind") == "List":
            items = []
            for item in document.get("items") or []:
                done = inject_object(item, templates, policy, namespace)
                injected.append(done)
                items.append(done.mutated)
            outputs.append({**document, "items": items})
        elif isinstance(document, dict):
            done = inject_object(document, templates, policy, namespace)
            injected.append(done)
            outputs.append(done.mutated)
        elif document is not None:
            outputs.append(document)
    return outputs, injected


def dump_documents(documents: list[Any]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
