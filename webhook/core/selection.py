"""Which templates to inject into an object now, and the stable reason token when the answer is none.

Whether the object opted in, and to what, is ``optin.decide``'s answer; this module adds what the
request and the object's state rule out (operation, subresource, kind, deletion, immutable pod
templates, controller-owned children) and what the status annotation says is already injected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from webhook.core.jsontypes import JsonObject
from webhook.core.model import AdmissionFacts, InjectionPolicy
from webhook.core.optin import annotations_of, decide
from webhook.core.workloads import IMMUTABLE_POD_TEMPLATE_ON_UPDATE, SUPPORTED_KINDS, managing_owner

HANDLED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
NOT_REQUESTED = "not-requested"
"""No opt-in signal anywhere (object, pod template, namespace)."""
OPTED_OUT = "opted-out"
"""The deciding signal says ``false``: the object (or its pod template) opted out."""


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    names: tuple[str, ...]
    already_injected: dict[str, str]
    warnings: tuple[str, ...] = ()


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

    decision = decide(obj, facts.kind, facts.namespace_metadata, policy)
    if not decision.opted_in:
        return Skip(OPTED_OUT if decision.opted_out else NOT_REQUESTED)
    # The API server would refuse a changed pod template on UPDATE (see workloads.py).
    if facts.operation == "UPDATE" and facts.kind in IMMUTABLE_POD_TEMPLATE_ON_UPDATE:
        return Skip(IMMUTABLE_POD_TEMPLATE_ON_UPDATE[facts.kind])
    owner = managing_owner(facts.kind, obj)
    if owner is not None:
        return Skip(f"managed-by-{owner.lower()}")

    already, warnings = parse_status(annotations_of(pod_template).get(policy.status_annotation))
    wanted = tuple(n for n in decision.templates if n not in already)
    if not wanted:
        return Skip("already-injected", warnings)
    return Selection(wanted, already, warnings)
