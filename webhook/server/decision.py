"""The admission decision: a review's body in, the HTTP answer and what it came to out.

No metrics, no logging, no clock: the templates and what is known of namespaces (Pod Security
levels, labels and annotations) are read through the callables it is given, so the golden tests run
every case through it, bytes in and bytes out. Whatever a body causes is an Outcome, never an
exception: a refusal of the envelope (4xx), an AdmissionReview that admits or denies (200), or an
internal error answered as ``--on-internal-error`` says, which carries the exception for the
recorder (handler.py) to log with its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from webhook.core import (
    AdmissionFacts,
    InjectionError,
    InjectionPolicy,
    MutationResult,
    PodSecurityConflict,
    TemplateSet,
    mutate,
)
from webhook.core import verdict as verdicts
from webhook.core.levels import PodSecurityLevel
from webhook.core.model import NamespaceMetadata
from webhook.server.refusal import Refusal, error_body
from webhook.server.review import (
    AdmissionResponse,
    NamespaceFacts,
    ParsedReview,
    allow,
    deny,
    encode_review,
    internal_failure,
    parse_review,
)


class TemplateSnapshotProvider(Protocol):
    """The server's only view of templates: a call returning the current immutable set."""

    def __call__(self) -> TemplateSet: ...


NamespaceLevelLookup = Callable[[str], PodSecurityLevel | None]
"""Namespace → the Pod Security level it enforces, or None when unknown (an in-memory lookup)."""
NamespaceLookup = Callable[[str], NamespaceMetadata | None]
"""Namespace → the labels and annotations the engine reads, or None when unknown (in memory)."""


@dataclass(frozen=True, slots=True, init=False)
class Outcome:
    """One answer and what it came to: ``outcome`` is injected, skipped, denied, error or rejected."""

    status: int
    body: bytes
    outcome: str
    reason: str
    detail: str = ""
    facts: AdmissionFacts | None = None
    """The review's facts, once its envelope was read."""
    name: str = ""
    """The object's name for the log (``generateName*`` when it has none yet)."""
    result: MutationResult | None = None
    conflicts: tuple[str, ...] = ()
    """Templates an injection was denied for by the Pod Security check."""
    failure: BaseException | None = None
    """An internal error, for the recorder to log with its traceback; ``failed`` says where."""
    failed: str = ""
    reviewed: Any = None
    """The reviewed object as it arrived, for recorders that describe it (Events name it or its owner)."""

    def __init__(
        self,
        status: int,
        body: bytes,
        outcome: str,
        reason: str,
        detail: str = "",
        facts: AdmissionFacts | None = None,
        name: str = "",
        result: MutationResult | None = None,
        conflicts: tuple[str, ...] = (),
        failure: BaseException | None = None,
        failed: str = "",
        reviewed: Any = None,
    ) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "detail", detail)
        object.__setattr__(self, "facts", facts)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "result", result)
        object.__setattr__(self, "conflicts", conflicts)
        object.__setattr__(self, "failure", failure)
        object.__setattr__(self, "failed", failed)
        object.__setattr__(self, "reviewed", reviewed)


class AdmissionDecision:
    def __init__(
        self,
        templates: TemplateSnapshotProvider,
        policy: InjectionPolicy,
        *,
        allow_on_internal_error: bool = False,
        verify_patches: bool = True,
        namespace_levels: NamespaceLevelLookup | None = None,
        namespaces: NamespaceLookup | None = None,
    ) -> None:
        self._templates = templates
        self._policy = policy
        self._allow_on_internal_error = allow_on_internal_error
        self._verify = verify_patches
        self._namespace_levels = namespace_levels
        self._namespaces = namespaces
        known = namespace_levels is not None or namespaces is not None
        self._namespace_facts: NamespaceFacts | None = self._namespace_of if known else None

    @property
    def policy(self) -> InjectionPolicy:
        """The policy the engine is given, for a bench that times the engine apart (around_engine.py)."""
        return self._policy

    def answer(self, body: bytes) -> Outcome:
        review = self.read(body)
        return review if isinstance(review, Outcome) else self.decide(review)

    def read(self, body: bytes) -> ParsedReview | Outcome:
        """The envelope: a review to decide, or the outcome that ends it here."""
        try:
            return parse_review(body, self._namespace_facts)
        except Refusal as refusal:
            return refused(refusal)
        except Exception as exc:
            return self.failed_unread(body, exc, "while reading a review's envelope")

    def decide(self, review: ParsedReview) -> Outcome:
        """Mutate and encode the answer. Whatever fails after the envelope was read (the engine,
        building the patch, the encoder, e.g. orjson refusing an integer beyond 64 bits from a
        template) is an internal error."""
        facts, obj = review.facts, review.reviewed
        try:
            result = mutate(obj, facts, self._templates(), self._policy, verify=self._verify)
            # Building the answer encodes the patch: a value the encoder refuses fails here.
            response = allow(facts.uid, result)
        except InjectionError as refused_by_engine:
            refusal = verdicts.refused(refused_by_engine)
            conflicts = (
                refused_by_engine.templates if isinstance(refused_by_engine, PodSecurityConflict) else ()
            )
            answer = deny(facts.uid, refused_by_engine)
            return self._answered(
                facts, obj, answer, refusal.outcome, refusal.reason, refusal.message, conflicts
            )
        # One name per handler: compiled (mypyc), a name shared by two handlers takes the first's
        # type, and binding another exception to it raises TypeError.
        except Exception as failure:
            return self._failed(facts, obj, failure, f"on review uid={facts.uid} kind={facts.kind}")
        verdict = verdicts.admitted(result)
        return self._answered(
            facts, obj, response, verdict.outcome, verdict.reason, ",".join(result.injected), (), result
        )

    def failed_unread(self, body: bytes, failure: BaseException | None, failed: str) -> Outcome:
        """An internal error before the envelope was understood: the policy's answer needs the uid,
        so look for it; without one kube-apiserver could not match any answer, and gets a JSON 500."""
        uid = _uid_of(body)
        if uid is None:
            answer = error_body("the sidecar injector failed internally; see its logs")
            return Outcome(500, answer, "error", "internal-error", failure=failure, failed=failed)
        answer = encode_review(internal_failure(uid, self._allow_on_internal_error))
        return Outcome(200, answer, "error", "internal-error", failure=failure, failed=failed)

    def _namespace_of(self, namespace: str) -> tuple[PodSecurityLevel | None, NamespaceMetadata | None]:
        """What is known of a review's namespace, which the envelope adds to the review's facts."""
        level = self._namespace_levels(namespace) if self._namespace_levels is not None else None
        metadata = self._namespaces(namespace) if self._namespaces is not None else None
        return level, metadata

    def _answered(
        self,
        facts: AdmissionFacts,
        obj: Any,
        response: AdmissionResponse,
        outcome: str,
        reason: str,
        detail: str,
        conflicts: tuple[str, ...] = (),
        result: MutationResult | None = None,
    ) -> Outcome:
        """The decided review with its answer encoded; an answer the encoder refuses is an internal error."""
        try:
            body = encode_review(response)
        except Exception as exc:
            return self._failed(
                facts, obj, exc, f"encoding the answer to review uid={facts.uid} kind={facts.kind}"
            )
        name = facts.name or _object_name(obj)
        return Outcome(200, body, outcome, reason, detail, facts, name, result, conflicts, None, "", obj)

    def _failed(self, facts: AdmissionFacts, obj: Any, failure: BaseException, failed: str) -> Outcome:
        body = encode_review(internal_failure(facts.uid, self._allow_on_internal_error))
        name = facts.name or _object_name(obj)
        return Outcome(200, body, "error", "internal-error", "", facts, name, None, (), failure, failed, obj)


def refused(refusal: Refusal) -> Outcome:
    return Outcome(refusal.status, error_body(refusal.message), "rejected", refusal.reason, refusal.message)


def _uid_of(body: bytes) -> str | None:
    try:
        uid = orjson.loads(body)["request"]["uid"]
        orjson.dumps(uid)  # a uid the encoder refuses cannot be echoed either
    except Exception:
        return None
    return uid if isinstance(uid, str) and uid else None


def _object_name(obj: object) -> str:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(metadata, dict):
        return ""
    name = metadata.get("name") or (f"{metadata['generateName']}*" if metadata.get("generateName") else "")
    return str(name)
