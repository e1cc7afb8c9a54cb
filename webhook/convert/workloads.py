"""The annotation rewrite of each workload given with the configuration.

The three injectors only ever saw Pods, so they read the pod's annotations: a Pod's own, or the pod
template's of a Deployment, Job, ... Only those are rewritten; the same annotation on a Deployment's
own metadata did nothing before and must not start to inject now (our engine reads both places).
"""

from __future__ import annotations

import copy
from typing import Any

from webhook.convert.model import ImportWarning, RequestTranslator, Translation, WorkloadRewrite
from webhook.convert.names import quote
from webhook.convert.reading import SourceDocument
from webhook.core import InjectionPolicy
from webhook.core.optin import requested_names
from webhook.core.workloads import locate_pod_template

POLICY = InjectionPolicy(legacy_annotations=False)


def rewrite_workload(
    document: SourceDocument, translator: RequestTranslator
) -> tuple[WorkloadRewrite | None, list[ImportWarning]]:
    body = document.body
    kind = str(body.get("kind"))
    root = locate_pod_template(kind) or ()
    origin = _origin(document)
    rewritten = copy.deepcopy(body)
    pod_metadata = _metadata_at(rewritten, root)
    if pod_metadata is None:
        return None, [
            ImportWarning(origin, "has no pod template metadata to read annotations from; left as is")
        ]
    annotations, labels = _strings(pod_metadata, "annotations"), _strings(pod_metadata, "labels")
    translation = translator.translate(annotations, labels)
    warnings = [ImportWarning(origin, note) for note in translation.notes]
    if root:
        own = translator.translate(_strings(body.get("metadata"), "annotations"), {})
        if own.removed:
            warnings.append(
                ImportWarning(
                    origin,
                    f"{', '.join(own.removed)} on the {kind}'s own metadata did nothing (the "
                    "old injector read pods only); not rewritten",
                )
            )
    if not translation.removed and not translation.names:
        return None, warnings
    removed = {key: annotations[key] for key in translation.removed}
    added = _added(annotations, translation)
    for key in removed:
        del pod_metadata["annotations"][key]
    if added:
        pod_metadata.setdefault("annotations", {}).update(added)
    location = ".".join((*root, "metadata", "annotations"))
    name, namespace = _identity(body)
    return WorkloadRewrite(kind, name, namespace, origin, location, removed, added, rewritten), warnings


def _added(annotations: dict[str, str], translation: Translation) -> dict[str, str]:
    """Our annotation with the translated names after those it already lists (an opt-out is replaced)."""
    if not translation.names:
        return {}
    present = requested_names(annotations, POLICY)
    names = list(dict.fromkeys([*present, *translation.names]))
    return {POLICY.inject_annotation: ", ".join(names)}


def _metadata_at(body: dict[str, Any], root: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = body
    for token in (*root, "metadata"):
        if not isinstance(node, dict):
            return None
        if token == "metadata" and node.get("metadata") is None:
            node["metadata"] = {}
        node = node.get(token)
    if not isinstance(node, dict):
        return None
    if not isinstance(node.get("annotations"), dict | None):
        return None
    return node


def _strings(metadata: Any, field: str) -> dict[str, str]:
    entries = metadata.get(field) if isinstance(metadata, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, str)}


def _identity(body: dict[str, Any]) -> tuple[str, str | None]:
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    namespace = metadata.get("namespace")
    return str(name), namespace if isinstance(namespace, str) else None


def _origin(document: SourceDocument) -> str:
    name, namespace = _identity(document.body)
    where = f"{namespace}/{name}" if namespace else name
    return f"{document.file}: {document.body.get('kind')} {quote(where)}"
