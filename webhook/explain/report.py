"""One object's explanation, built by running the server's own decision: ``optin.decide`` for the
signals, ``mutate`` for the verdict and what is added, ``lifecycle`` for a live object's state.

Nothing here decides anything on its own: what the report says was added is read back from the
status annotation ``mutate`` wrote on the patched object (the record ``uninject`` trusts), and the
verdict and its reason token come from ``core.verdict``, as the server's log line does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, MutationResult, TemplateSet, mutate
from webhook.core.jsontypes import JsonObject
from webhook.core.lifecycle import NEEDS_ROLLOUT, PodMetadata, TemplateState, pod_states, workload_states
from webhook.core.optin import OptInDecision, annotations_of, decide, labels_of
from webhook.core.placement import IN_PODS
from webhook.core.selection import read_status
from webhook.core.status import Added, InjectionStatus
from webhook.core.verdict import Verdict, admitted, refused
from webhook.core.workloads import locate_pod_template

LoadStatus = Literal["loaded", "not-found", "rejected"]
EXIT_OK, EXIT_ERROR, EXIT_SKIPPED, EXIT_OUTDATED = 0, 1, 2, 3
INJECTED_ALREADY = "already-injected"
FINE_SKIPS = frozenset({INJECTED_ALREADY, IN_PODS})
"""Skips that leave the object as it should be: injected before, or injected into its Pods."""
KEEPS_LAST_GOOD = "rejected; the server keeps the last good revision it loaded before this content"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A template document whose current content the parser refuses, with every problem it reports."""

    name: str
    source: str
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TemplateLoad:
    name: str
    status: LoadStatus
    source: str = ""
    revision: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    kind: str
    namespace: str
    name: str
    opt_in: OptInDecision | None
    """None when the object's opt-in cannot be read (the verdict says why)."""
    templates: tuple[TemplateLoad, ...]
    added: tuple[tuple[str, Added | None], ...]
    """(template, what it adds or added) in order; None when the status did not record it."""
    in_pods: tuple[str, ...]
    warnings: tuple[str, ...]
    verdict: Verdict
    states: tuple[TemplateState, ...] | None = None
    """A live object's templates against the current revisions; None for an offline one."""

    @property
    def live(self) -> bool:
        return self.states is not None

    @property
    def exit_code(self) -> int:
        """0 injected or would be; 2 skipped or denied; 3 a live object not at the current revisions."""
        verdict = self.verdict
        fine = verdict.outcome == "injected" or (
            verdict.outcome == "skipped" and verdict.reason in FINE_SKIPS
        )
        code = EXIT_OK if fine else EXIT_SKIPPED
        rejected = {t.name for t in self.templates if t.status == "rejected"}
        stale = [s for s in self.states or () if s.template not in rejected]
        if any(s.state in NEEDS_ROLLOUT or s.state == "template-gone" for s in stale):
            code = max(code, EXIT_OUTDATED)
        return code


def explain_object(
    obj: JsonObject,
    facts: AdmissionFacts,
    templates: TemplateSet,
    policy: InjectionPolicy,
    rejected: Mapping[str, Rejection] | None = None,
    *,
    live: bool = False,
) -> Explanation:
    """``obj`` admitted with ``facts`` as the server would; ``rejected``: template names whose
    current content is refused (in a cluster the server still serves their last good revision);
    ``live``: the object was read from a cluster, so its status is compared with the templates."""
    opt_in = _opt_in(obj, facts, policy)
    result: MutationResult | None = None
    try:
        result = mutate(obj, facts, templates, policy, verify=True)
        verdict = admitted(result)
    except InjectionError as error:
        verdict = refused(error)
    names = _requested(opt_in, obj, facts.kind, policy)
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return Explanation(
        kind=facts.kind,
        namespace=facts.namespace,
        name=facts.name or _name(metadata),
        opt_in=opt_in,
        templates=tuple(_load(name, templates, facts.namespace, rejected or {}) for name in names),
        added=_added(obj, facts.kind, result, policy),
        in_pods=result.in_pods if result is not None else (),
        warnings=result.warnings if result is not None else (),
        verdict=verdict,
        states=_states(obj, facts, templates, policy) if live else None,
    )


def _name(metadata: object) -> str:
    """The object's name; ``generateName*`` for one created without a name (as the server logs it)."""
    if not isinstance(metadata, dict):
        return ""
    generated = f"{metadata['generateName']}*" if metadata.get("generateName") else ""
    return str(metadata.get("name") or generated)


def _opt_in(obj: JsonObject, facts: AdmissionFacts, policy: InjectionPolicy) -> OptInDecision | None:
    if locate_pod_template(facts.kind) is None:
        return OptInDecision()
    try:
        return decide(obj, facts.kind, facts.namespace_metadata, policy)
    except InjectionError:
        return None


def _requested(
    opt_in: OptInDecision | None, obj: JsonObject, kind: str, policy: InjectionPolicy
) -> tuple[str, ...]:
    """The templates the decision asked for, then any the status records beyond them."""
    asked = opt_in.templates if opt_in is not None else ()
    return tuple(dict.fromkeys([*asked, *_recorded(obj, kind, policy).revisions]))


def _load(
    name: str, templates: TemplateSet, namespace: str, rejected: Mapping[str, Rejection]
) -> TemplateLoad:
    template = templates.resolve(name, namespace)
    if template is not None:  # served: a rejected document of the same name is not what runs
        return TemplateLoad(name, "loaded", template.source, template.revision)
    refusal = rejected.get(name)
    if refusal is not None:
        return TemplateLoad(name, "rejected", refusal.source, None, refusal.problems)
    return TemplateLoad(name, "not-found")


def _added(
    obj: JsonObject, kind: str, result: MutationResult | None, policy: InjectionPolicy
) -> tuple[tuple[str, Added | None], ...]:
    """What each template adds (from the status the patch writes) or, for an object injected
    before, what the status records it added."""
    if result is not None and result.injected and result.patched is not None:
        status = _recorded(result.patched, kind, policy)
        return tuple((name, _entry_added(status, name)) for name in result.injected)
    status = _recorded(obj, kind, policy)
    return tuple((entry.name, entry.added) for entry in status.entries)


def _entry_added(status: InjectionStatus, name: str) -> Added | None:
    entry = status.entry(name)
    return entry.added if entry is not None else None


def _recorded(obj: JsonObject, kind: str, policy: InjectionPolicy) -> InjectionStatus:
    status, _ = read_status(annotations_of(_pod_template(obj, kind)), policy)
    return status


def _states(
    obj: JsonObject, facts: AdmissionFacts, templates: TemplateSet, policy: InjectionPolicy
) -> tuple[TemplateState, ...]:
    if facts.kind == "Pod":
        pod = PodMetadata(annotations_of(obj), labels_of(obj))
        return pod_states(pod, facts.namespace, facts.namespace_metadata, templates, policy)
    return workload_states(obj, (), facts.namespace_metadata, templates, policy)


def _pod_template(obj: JsonObject, kind: str) -> JsonObject:
    node: object = obj
    for token in locate_pod_template(kind) or ():
        node = node.get(token) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}
