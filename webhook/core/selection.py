"""Which templates an object asks for, and the stable reason token when the answer is none."""

from __future__ import annotations

import json
from dataclasses import dataclass

from webhook.core.jsontypes import JsonObject
from webhook.core.model import LEGACY_ANNOTATION_PREFIX, AdmissionFacts, InjectionPolicy
from webhook.core.workloads import IMMUTABLE_POD_TEMPLATE_ON_UPDATE, SUPPORTED_KINDS, managing_owner

HANDLED_OPERATIONS = frozenset({"CREATE", "UPDATE"})

NOT_OPTED_IN = frozenset(
    {"operation-not-handled", "subresource", "kind-not-handled", "being-deleted", "not-requested"}
)
"""The skip reasons decided before any template is requested: the object did not opt in, or was not
looked at. Every other skip, and every denial, concerns an object that asked for a template (Events
are recorded for those only)."""


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    names: tuple[str, ...]
    already_injected: dict[str, str]
    warnings: tuple[str, ...] = ()


def annotations_of(obj: JsonObject | None) -> dict[str, str]:
    """String annotations only: anything else is not ours to interpret."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return {}
    return {k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}


def requested_names(annotations: dict[str, str], policy: InjectionPolicy) -> list[str]:
    names: list[str] = []
    listed = annotations.get(policy.inject_annotation)
    if listed is not None and listed.strip().lower() not in ("", "false", "none"):
        names.extend(part.strip() for part in listed.split(",") if part.strip())
    if policy.legacy_annotations:
        for key, value in annotations.items():
            if key.startswith(LEGACY_ANNOTATION_PREFIX) and value.strip().lower() == "true":
                name = key[len(LEGACY_ANNOTATION_PREFIX) :]
                if name:
                    names.append(name)
    return names


def parse_status(value: str | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """The status annotation as {template: revision}; a mangled one is reported, not trusted."""
    if value is None:
        return {}, ()
    try:
        decoded = json.loads(value)
        entries = decoded["injected"]
        return {str(e["name"]): str(e.get("revision", "")) for e in entries}, ()
    except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: nested too deeply
        return {}, (f"ignoring unreadable injection status annotation {value[:80]!r}",)


def render_status(injected: dict[str, str]) -> str:
    entries = [{"name": name, "revision": revision} for name, revision in injected.items()]
    return json.dumps({"injected": entries}, separators=(",", ":"))


def skip_for_request(facts: AdmissionFacts) -> Skip | None:
    """What the request alone rules out, before the object is looked at (it may be null or junk)."""
    if facts.operation not in HANDLED_OPERATIONS:
        return Skip("operation-not-handled")
    # A subresource (status, scale, ephemeralcontainers, ...) writes only part of the object, and a
    # patch for the whole object would be applied to that part or refused: never ours to change.
    if facts.sub_resource:
        return Skip("subresource")
    if facts.kind not in SUPPORTED_KINDS:
        return Skip("kind-not-handled")
    return None


def select_templates(
    obj: JsonObject, pod_template: JsonObject, facts: AdmissionFacts, policy: InjectionPolicy
) -> Selection | Skip:
    request_skip = skip_for_request(facts)
    if request_skip is not None:
        return request_skip
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and metadata.get("deletionTimestamp"):
        return Skip("being-deleted")

    object_annotations = annotations_of(obj)
    template_annotations = object_annotations if pod_template is obj else annotations_of(pod_template)
    names: list[str] = requested_names(object_annotations, policy)
    if pod_template is not obj:
        names.extend(requested_names(template_annotations, policy))
    if not names:
        return Skip("not-requested")
    # The API server would refuse a changed pod template on UPDATE (see workloads.py).
    if facts.operation == "UPDATE" and facts.kind in IMMUTABLE_POD_TEMPLATE_ON_UPDATE:
        return Skip(IMMUTABLE_POD_TEMPLATE_ON_UPDATE[facts.kind])
    owner = managing_owner(facts.kind, obj)
    if owner is not None:
        return Skip(f"managed-by-{owner.lower()}")

    already, warnings = parse_status(template_annotations.get(policy.status_annotation))
    wanted = tuple(dict.fromkeys(n for n in names if n not in already))
    if not wanted:
        return Skip("already-injected", warnings)
    return Selection(wanted, already, warnings)
