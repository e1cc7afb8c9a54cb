"""Which templates to inject into an object now, and the stable reason token when the answer is none.

Whether the object opted in, and to what, is ``optin.decide``'s answer; this module adds what the
request and the object's state rule out (operation, subresource, kind, deletion, immutable pod
templates, controller-owned children) and what the status annotation says is already injected.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.core.jsontypes import JsonObject
from webhook.core.model import AdmissionFacts, InjectionPolicy
from webhook.core.optin import OBJECT_SOURCES, annotation_of, decide
from webhook.core.status import InjectionStatus, StatusProblem, parse_status
from webhook.core.workloads import IMMUTABLE_POD_TEMPLATE_ON_UPDATE, SUPPORTED_KINDS, managing_owner

HANDLED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
NOT_REQUESTED = "not-requested"
"""No opt-in signal anywhere (object, pod template, namespace)."""
OPTED_OUT = "opted-out"
"""The deciding signal says ``false``: the object (or its pod template) opted out."""

NOT_OPTED_IN = frozenset(
    {"operation-not-handled", "subresource", "kind-not-handled", "being-deleted", NOT_REQUESTED, OPTED_OUT}
)
"""The skip reasons decided before any template is requested: the object did not opt in (no signal,
or the deciding one opts out, even over a namespace that opts in), or was not looked at. Every other
skip, and every denial, concerns an object that asked for a template (Events are recorded for those
only)."""


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, init=False)
class Selection:
    names: tuple[str, ...]
    already: InjectionStatus
    """The status annotation as found (what earlier injections added)."""
    warnings: tuple[str, ...] = ()
    on_object: tuple[str, ...] = ()
    """The decided names when a workload's own metadata (annotation or label) decided, in order:
    its Pods do not see that opt-in unless pod injection copies it into the pod template."""

    def __init__(
        self,
        names: tuple[str, ...],
        already: InjectionStatus,
        warnings: tuple[str, ...] = (),
        on_object: tuple[str, ...] = (),
    ) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "already", already)
        object.__setattr__(self, "warnings", warnings)
        object.__setattr__(self, "on_object", on_object)

    @property
    def already_injected(self) -> dict[str, str]:
        return self.already.revisions


def read_status(
    annotations: dict[str, str], policy: InjectionPolicy
) -> tuple[InjectionStatus, tuple[str, ...]]:
    """The status annotation among ``annotations``; a mangled one reads as empty, with a warning."""
    return _parsed(annotations.get(policy.status_annotation))


def _parsed(value: str | None) -> tuple[InjectionStatus, tuple[str, ...]]:
    status = parse_status(value)
    if isinstance(status, StatusProblem):
        return InjectionStatus(), (status.message,)
    return status, ()


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
    return select_for_object(obj, pod_template, facts, policy)


def select_for_object(
    obj: JsonObject, pod_template: JsonObject, facts: AdmissionFacts, policy: InjectionPolicy
) -> Selection | Skip:
    """select_templates() for a request skip_for_request() has already let through."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and metadata.get("deletionTimestamp"):
        return Skip("being-deleted")

    signals = decide(obj, facts.kind, facts.namespace_metadata, policy).signals
    if not signals:
        return Skip(NOT_REQUESTED)
    decider = signals[0]  # the highest signal decides (OptInDecision's properties, read once here)
    templates = decider.templates
    if not templates:
        return Skip(OPTED_OUT)
    on_object = templates if pod_template is not obj and decider.source in OBJECT_SOURCES else ()
    # The API server would refuse a changed pod template on UPDATE (see workloads.py).
    if facts.operation == "UPDATE" and facts.kind in IMMUTABLE_POD_TEMPLATE_ON_UPDATE:
        return Skip(IMMUTABLE_POD_TEMPLATE_ON_UPDATE[facts.kind])
    owner = managing_owner(facts.kind, obj)
    if owner is not None:
        return Skip(f"managed-by-{owner.lower()}")

    already, warnings = _parsed(annotation_of(pod_template, policy.status_annotation))
    wanted = templates
    if already.entries:
        revisions = already.revisions
        wanted = tuple(n for n in templates if n not in revisions)
    if not wanted:
        return Skip("already-injected", warnings)
    return Selection(wanted, already, warnings, on_object)
