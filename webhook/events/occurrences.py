"""What to tell Kubernetes users, as data: the Events a decided review or a template change calls for.

Pure: no clock, no I/O. The decision is read, never re-derived: its outcome, reason token, detail,
the injected templates and their revisions, its warnings and the facts of the request; the object
is only looked at for whom the Event is about (``regarding``).

- Only objects that opted in get Events: an injection, a denial, or a skip whose reason is not one of
  ``NOT_OPTED_IN`` (the object asked for no template, or was not looked at). Never for dry runs
  (kubectl ``--dry-run=server`` must have no side effects), internal errors or refused envelopes.
- ``regarding`` is the object itself; an object created without a name (a Pod from ``generateName``)
  cannot be named, so its Event goes to its controller owner (the ReplicaSet, Job…), as Linkerd does,
  and the note names the Pod's generateName. An object being created has no uid yet (kube-apiserver
  assigns it after admission), and ``kubectl describe`` selects Events by uid: ``find_uid`` asks the
  sender to read the uid once the object exists. A denied object is never stored: no lookup.
- Reasons: ``Injected`` (templates and revisions; and the templates left to its Pods),
  ``PodInjection`` (a workload whose templates all go into its Pods: they are not missing, its Pods
  get them when created; never ``Skipped``, which would read as a failure), ``Skipped`` (the reason
  token), ``Denied`` (the
  message), ``Warning`` (one per admission warning, at most ``MAX_WARNING_EVENTS``); and for
  template ConfigMaps ``TemplateRejected`` (the field, and the revision that stays in service) and
  ``TemplateRecovered``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from webhook.core import AdmissionFacts, MutationResult, Template
from webhook.core.placement import IN_PODS
from webhook.core.selection import NOT_OPTED_IN

NORMAL, WARNING = "Normal", "Warning"
INJECT, LOAD = "Inject", "Load"
NOTE_LIMIT = 1024  # characters: kube-apiserver refuses a longer note
MAX_WARNING_EVENTS = 10  # per review; a review may carry many warnings, the queue bounds reviews


@dataclass(frozen=True, slots=True)
class Regarding:
    """The object an Event is about (an ObjectReference)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""

    def as_json(self) -> dict[str, str]:
        reference = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }
        return reference | ({"uid": self.uid} if self.uid else {})


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One thing to report. Identical occurrences (every field equal) are one Event with a count."""

    regarding: Regarding
    type: str
    reason: str
    action: str
    note: str
    find_uid: bool = False
    """The object is being created: read its uid once it exists, before the Event is created."""


class DecidedReview(Protocol):
    """What a decided review says (``webhook.server.decision.Outcome`` is one)."""

    @property
    def outcome(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def facts(self) -> AdmissionFacts | None: ...
    @property
    def result(self) -> MutationResult | None: ...
    @property
    def reviewed(self) -> Any: ...


class TemplateProblem(Protocol):
    """Why a template document was rejected (``webhook.templates.errors.TemplateError`` is one)."""

    @property
    def key(self) -> str: ...
    @property
    def field(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def line(self) -> int | None: ...
    @property
    def problems(self) -> tuple[object, ...]: ...
    @property
    def omitted(self) -> int: ...


def opted_in(review: DecidedReview) -> bool:
    if review.outcome in ("injected", "denied"):
        return True
    return review.outcome == "skipped" and review.reason not in NOT_OPTED_IN


def admission_occurrences(review: DecidedReview) -> tuple[Occurrence, ...]:
    """The Events one decided review calls for (none for dry runs and objects that did not opt in)."""
    facts = review.facts
    if facts is None or facts.dry_run or not opted_in(review):
        return ()
    subject = _subject(review.reviewed, facts)
    if subject is None:
        return ()
    regarding, about = subject
    find_uid = not regarding.uid and review.outcome != "denied"

    def occurrence(type_: str, reason: str, text: str) -> Occurrence:
        return Occurrence(regarding, type_, reason, INJECT, _note(about, text), find_uid)

    result = review.result
    if review.outcome == "injected" and result is not None:
        injected = zip(result.injected, result.revisions or ("",) * len(result.injected), strict=True)
        listed = ", ".join(f"{name} (revision {rev})" if rev else name for name, rev in injected)
        first = occurrence(NORMAL, "Injected", f"injected {listed}{_left_to_pods(result, '; ')}")
    elif review.outcome == "skipped" and review.reason == IN_PODS and result is not None:
        first = occurrence(NORMAL, "PodInjection", _left_to_pods(result, "not injected here: "))
    elif review.outcome == "denied":
        first = occurrence(WARNING, "Denied", f"denied: {review.detail or review.reason}")
    else:
        first = occurrence(NORMAL, "Skipped", f"not injected: {review.reason}")
    warnings = result.warnings[:MAX_WARNING_EVENTS] if result is not None else ()
    return (first, *(occurrence(WARNING, "Warning", warning) for warning in warnings))


def _left_to_pods(result: MutationResult, lead: str) -> str:
    if not result.in_pods:
        return ""
    return f"{lead}its Pods get {', '.join(result.in_pods)} when they are created (pod injection)"


def template_rejected(configmap: Regarding, error: TemplateProblem, serving: Template | None) -> Occurrence:
    """A template edit the store refused: which field, and what stays in service."""
    where = f" (line {error.line})" if error.line is not None else ""
    more = len(error.problems) - 1 + error.omitted
    others = f"; {more} more problem(s), listed by sidecar-injector templates validate" if more else ""
    kept = (
        f"revision {serving.revision} of template {serving.name} stays in service"
        if serving is not None
        else "no earlier version to keep: the template is not served"
    )
    text = f"Key {error.key} rejected: {error.field}: {error.message}{where}{others}; {kept}"
    return Occurrence(configmap, WARNING, "TemplateRejected", LOAD, _clip(text))


def template_recovered(configmap: Regarding, serving: Template) -> Occurrence:
    text = f"Template {serving.name} revision {serving.revision} is in service: the rejected edit is fixed"
    return Occurrence(configmap, NORMAL, "TemplateRecovered", LOAD, _clip(text))


def _subject(obj: Any, facts: AdmissionFacts) -> tuple[Regarding, str] | None:
    """Whom the Event is about, and the words that name the reviewed object when that is its owner."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(metadata, dict):
        return None
    name = metadata.get("name") or facts.name
    if isinstance(name, str) and name:
        api_version = obj.get("apiVersion")
        version = api_version if isinstance(api_version, str) else ""
        uid = metadata.get("uid") if isinstance(metadata.get("uid"), str) else ""
        return Regarding(version, facts.kind, facts.namespace, name, uid or ""), ""
    owner = _controller(metadata.get("ownerReferences"))
    if owner is None:
        return None
    generated = metadata.get("generateName") if isinstance(metadata.get("generateName"), str) else ""
    api_version, kind, owner_name, uid = owner
    return Regarding(api_version, kind, facts.namespace, owner_name, uid), f"{facts.kind} {generated}*"


def _controller(references: object) -> tuple[str, str, str, str] | None:
    """(apiVersion, kind, name, uid) of the managing controller among ``ownerReferences``."""
    if not isinstance(references, list):
        return None
    for reference in _mappings(references):
        fields = [reference.get(key) for key in ("apiVersion", "kind", "name", "uid")]
        strings = [field for field in fields if isinstance(field, str) and field]
        if reference.get("controller") is True and len(strings) == len(fields):
            return strings[0], strings[1], strings[2], strings[3]
    return None


def _mappings(items: Iterable[object]) -> Iterable[Mapping[str, Any]]:
    return (item for item in items if isinstance(item, Mapping))


def _note(about: str, text: str) -> str:
    return _clip(f"{about}: {text}" if about else text[0].upper() + text[1:])


def _clip(text: str) -> str:
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"
