"""Where each supported kind keeps its pod template, and which objects must be left to their owners."""

from __future__ import annotations

from webhook.core.jsontypes import JsonObject

# Pointer tokens from the object's root to the PodTemplateSpec-like object (metadata + spec).
POD_TEMPLATE_TOKENS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

SUPPORTED_KINDS = frozenset(POD_TEMPLATE_TOKENS)

# A controller-owned child must not be mutated: changing its template makes the owner see drift
# and roll out new children without end. Its pods are injected from the owner's template instead.
_OWNER_KINDS_THAT_MANAGE = {"ReplicaSet": "Deployment", "Job": "CronJob"}

# Kinds whose pods are expected to finish; a classic sidecar would keep them running forever.
RUN_TO_COMPLETION_KINDS = frozenset({"Job", "CronJob"})

# Kinds whose pod template the API server refuses to change on UPDATE, with the skip reason. A Pod's
# containers, init containers and volumes are fixed at creation (only images and a few scheduling
# fields change); a Job's spec.template is immutable (pkg/apis/batch/validation: only a suspended,
# never started Job may change its scheduling directives, labels and annotations). The other kinds
# may change their template on UPDATE: StatefulSet forbids changes to every spec field but replicas,
# ordinals, template, updateStrategy, revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and
# minReadySeconds; Deployment, ReplicaSet and DaemonSet (apps/v1) fix their selector; CronJob's
# jobTemplate is mutable. The engine only ever writes under the pod template, so those are safe.
IMMUTABLE_POD_TEMPLATE_ON_UPDATE = {"Pod": "pod-update", "Job": "job-update"}


def locate_pod_template(kind: str) -> tuple[str, ...] | None:
    return POD_TEMPLATE_TOKENS.get(kind)


def claim_template_names(kind: str, obj: JsonObject) -> set[str]:
    """A StatefulSet's volumeClaimTemplates: each pod gets a volume of that name, added by the
    StatefulSet controller (which replaces any template volume of the same name)."""
    if kind != "StatefulSet":
        return set()
    spec = obj.get("spec")
    claims = spec.get("volumeClaimTemplates") if isinstance(spec, dict) else None
    if not isinstance(claims, list):
        return set()
    names = set()
    for claim in claims:
        metadata = claim.get("metadata") if isinstance(claim, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if isinstance(name, str):
            names.add(name)
    return names


def managing_owner(kind: str, obj: JsonObject) -> str | None:
    """The kind of the controller that manages this object, when that owner's template is what counts."""
    owner_kind = _OWNER_KINDS_THAT_MANAGE.get(kind)
    if owner_kind is None:
        return None
    metadata = obj.get("metadata")
    refs = metadata.get("ownerReferences") if isinstance(metadata, dict) else None
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, dict) and ref.get("kind") == owner_kind and ref.get("controller") is True:
            return owner_kind
    return None
