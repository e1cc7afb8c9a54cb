"""Offline injection (``sidecar-injector inject``) and its inverse (``uninject``): manifests in,
manifests out, same core.

Like ``istioctl kube-inject``: for previews and GitOps pipelines. Each object is treated as a
CREATE in its own namespace (or the default given), exactly as the webhook would see it. Namespace
objects in the same stream supply their labels and annotations (Pod Security levels, namespace
opt-in), as the cluster's would to the webhook. Unlike the webhook, ``inject`` warns when two
opt-in signals of an object disagree (``optin.OptInDecision.disagreements``), and when a Namespace
opts in by annotation alone, which a webhook's namespaceSelector cannot see. ``uninject`` removes
what the status annotation says the injector added, leaving every other byte of each object's
serialisation as it was (for migrating away, and for GitOps repositories that must not hold
injected output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from webhook.core import AdmissionFacts, InjectionPolicy, PatchOp, TemplateSet, mutate
from webhook.core.levels import PodSecurityLevel
from webhook.core.lifecycle import Uninjected, uninject
from webhook.core.model import NamespaceMetadata
from webhook.core.optin import annotations_of, decide, labels_of
from webhook.core.pod_security import enforced_level
from webhook.manifests import ManifestError, load_documents
from webhook.settings import DEFAULTS


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
    pod_security_level: PodSecurityLevel | None = None,
    namespace_metadata: NamespaceMetadata | None = None,
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
        namespace_metadata=namespace_metadata,
    )
    result = mutate(obj, facts, templates, policy, verify=True)
    mutated = result.patched if result.patched is not None else obj
    decision = decide(obj, facts.kind, namespace_metadata, policy)
    warnings = result.warnings + decision.disagreements()
    if result.skip_reason == "kind-not-handled":
        warnings += _no_pod_template(obj, facts.kind, decision.templates, policy)
    return InjectedObject(obj, mutated, result.patch, warnings, result.skip_reason)


def _no_pod_template(
    obj: dict[str, Any], kind: str, names: tuple[str, ...], policy: InjectionPolicy
) -> tuple[str, ...]:
    """The webhook never sees these kinds (it is registered for workloads only); a preview should say
    that an opt-in has no effect rather than print the object back in silence."""
    if kind == "Namespace":
        return _namespace_routing(obj, policy)
    if not names:
        return ()
    return (
        f"asks for {', '.join(map(repr, names))}, but a {kind or 'object without a kind'} "
        "has no pod template to inject into; left unchanged",
    )


def _namespace_routing(namespace: dict[str, Any], policy: InjectionPolicy) -> tuple[str, ...]:
    key = policy.inject_annotation
    if not policy.namespace_opt_in or key not in annotations_of(namespace) or key in labels_of(namespace):
        return ()
    return (
        f"opts in by the annotation {key} alone; a webhook's namespaceSelector sees only labels, so the "
        f"chart sends its objects only once it is also labelled {key}=<template>",
    )


def inject_documents(
    text: str,
    templates: TemplateSet,
    policy: InjectionPolicy,
    namespace: str,
    default_level: PodSecurityLevel = DEFAULTS.pod_security_default_level,
) -> tuple[list[Any], list[InjectedObject]]:
    """Mutate every object in a multi-document YAML stream; ``kind: List`` items one by one.

    ``default_level`` is what namespaces enforce unless a Namespace in the stream says otherwise.
    Raises ManifestError when the text is not a stream of objects, or holds none (as ``kubectl
    apply`` refuses an empty input: in a pipeline it means the step before failed).
    """
    documents = load_documents(text)
    objects = [obj for document in documents for obj in document.objects]
    if not objects:
        raise ManifestError("no Kubernetes objects in the input")
    namespaces = _namespaces(objects)

    def inject(obj: dict[str, Any]) -> InjectedObject:
        metadata = obj.get("metadata")
        own = str((metadata.get("namespace") if isinstance(metadata, dict) else None) or namespace)
        found = namespaces.get(own)
        level = enforced_level(found.labels if found else None, default_level)
        return inject_object(obj, templates, policy, namespace, level, found or NamespaceMetadata())

    outputs: list[Any] = []
    injected: list[InjectedObject] = []
    for document in documents:
        done = [inject(obj) for obj in document.objects]
        injected.extend(done)
        if document.items is None:
            outputs.append(done[0].mutated)
        else:
            outputs.append({**document.body, "items": [item.mutated for item in done]})
    return outputs, injected


def _namespaces(objects: list[dict[str, Any]]) -> dict[str, NamespaceMetadata]:
    """Namespace name → its labels and annotations, from the Namespace objects of the stream."""
    found = {}
    for obj in objects:
        metadata = obj.get("metadata")
        if obj.get("kind") == "Namespace" and isinstance(metadata, dict) and metadata.get("name"):
            found[str(metadata["name"])] = NamespaceMetadata(labels_of(obj), annotations_of(obj))
    return found


def uninject_documents(
    text: str, policy: InjectionPolicy, templates: TemplateSet | None = None
) -> tuple[list[Any], list[tuple[dict[str, Any], Uninjected]]]:
    """Every object of the stream without the injector's work; ``kind: List`` items one by one.

    ``templates`` lets a version 1 status (names and revisions only) be undone when the same
    revision is still served. Raises ManifestError as ``inject_documents`` does.
    """
    documents = load_documents(text)
    if not any(document.objects for document in documents):
        raise ManifestError("no Kubernetes objects in the input")
    outputs: list[Any] = []
    done: list[tuple[dict[str, Any], Uninjected]] = []
    for document in documents:
        results = [
            (obj, uninject(obj, str(obj.get("kind", "")), policy, templates=templates))
            for obj in document.objects
        ]
        done.extend(results)
        if document.items is None:
            outputs.append(results[0][1].obj)
        else:
            outputs.append({**document.body, "items": [result.obj for _, result in results]})
    return outputs, done


def dump_documents(documents: list[Any]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
