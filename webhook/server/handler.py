"""ReviewHandler: one AdmissionReview body in, one HTTP answer out; framework-free so any ASGI route,
the benchmark and the tests drive the very same code."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from webhook.core import (
    AdmissionFacts,
    InjectionError,
    InjectionPolicy,
    InvalidObject,
    MutationResult,
    PodSecurityConflict,
    TemplateSet,
    mutate,
)
from webhook.core.workloads import locate_pod_template
from webhook.metrics import Metrics
from webhook.server.review import (
    AdmissionResponse,
    EnvelopeError,
    ParsedReview,
    allow,
    deny,
    encode_review,
    internal_failure,
    parse_review,
)

log = logging.getLogger(__name__)


class TemplateSnapshotProvider(Protocol):
    """The server's only view of templates: a call returning the current immutable set."""

    def __call__(self) -> TemplateSet: ...


NamespaceLevelLookup = Callable[[str], str | None]
"""Namespace → the Pod Security level it enforces, or None when unknown (an in-memory lookup)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


def error_body(message: str) -> bytes:
    return orjson.dumps({"message": message})


class ReviewHandler:
    def __init__(
        self,
        templates: TemplateSnapshotProvider,
        policy: InjectionPolicy,
        metrics: Metrics,
        *,
        allow_on_internal_error: bool = False,
        verify_patches: bool = True,
        namespace_levels: NamespaceLevelLookup | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._templates = templates
        self._policy = policy
        self._metrics = metrics
        self._allow_on_internal_error = allow_on_internal_error
        self._verify = verify_patches
        self._namespace_levels = namespace_levels
        self._clock = clock

    def refuse(self, status: int, message: str, reason: str) -> Answer:
        """An HTTP-level refusal decided before the body was parsed (size, type, overload, lateness)."""
        self._metrics.reviews.labels("rejected", reason).inc()
        log.info("rejected review: HTTP %d (%s): %s", status, reason, message)
        return Answer(status, error_body(message))

    def handle(self, body: bytes) -> Answer:
        """Answer one review; never raises.

        Whatever fails after the envelope was read (the engine, building the patch, the encoder, e.g.
        orjson refusing an integer beyond 64 bits from a template) is an internal error: logged with
        its traceback, counted once, and answered as ``--on-internal-error`` says.
        """
        prepared = self.prepare(body)
        return prepared if isinstance(prepared, Answer) else self.finish(prepared)

    def prepare(self, body: bytes) -> Prepared | Answer:
        """Read the envelope: a review to decide with :meth:`finish`, or the answer refusing it."""
        started = self._clock()
        try:
            review = parse_review(body)
        except EnvelopeError as exc:
            self._metrics.reviews.labels("rejected", "bad-envelope").inc()
            log.info("rejected review: HTTP %d: %s", exc.status, exc.message)
            return Answer(exc.status, error_body(exc.message))
        except Exception:
            log.exception("internal error while reading a review's envelope")
            return self.failed_unread(body)
        return Prepared(review, started, _containers_in(review.object, review.facts.kind))

    def finish(self, prepared: Prepared) -> Answer:
        """Decide, encode, count and log a prepared review; never raises."""
        review, started = prepared.review, prepared.started
        facts = self._facts(review)
        decision = self._decide(review.object, facts)
        try:
            encoded = encode_review(decision.response)
        except Exception:
            log.exception(
                "internal error encoding the answer to review uid=%s kind=%s", facts.uid, facts.kind
            )
            decision = self._internal_error(facts)
            encoded = encode_review(decision.response)
        elapsed = self._clock() - started
        self._count(decision)
        self._metrics.latency.observe(elapsed)
        metadata = review.object.get("metadata") if isinstance(review.object, dict) else None
        name = facts.name or _object_name(metadata)
        log.info(
            "review uid=%s op=%s kind=%s object=%s/%s outcome=%s reason=%s detail=%s ops=%d "
            "dry_run=%s duration_ms=%.2f",
            facts.uid,
            facts.operation,
            facts.kind,
            facts.namespace,
            name,
            decision.outcome,
            decision.reason,
            decision.detail or "-",
            len(decision.result.patch) if decision.result else 0,
            facts.dry_run,
            elapsed * 1000,
        )
        return Answer(200, encoded)

    def _facts(self, review: ParsedReview) -> AdmissionFacts:
        facts = review.facts
        if self._namespace_levels is not None:
            level = self._namespace_levels(facts.namespace)
            if level is not None:
                facts = dataclasses.replace(facts, pod_security_level=level)
        return facts

    def _decide(self, obj: Any, facts: AdmissionFacts) -> Decision:
        try:
            result = mutate(obj, facts, self._templates(), self._policy, verify=self._verify)
            # Building the answer encodes the patch: a value the encoder refuses fails here.
            response = allow(facts.uid, result)
        except InjectionError as exc:
            code = 400 if isinstance(exc, InvalidObject) else 403
            conflicts = exc.templates if isinstance(exc, PodSecurityConflict) else ()
            return Decision(
                "denied", exc.reason, exc.message, deny(facts.uid, exc, code), conflicts=conflicts
            )
        except Exception:
            log.exception("internal error on review uid=%s kind=%s", facts.uid, facts.kind)
            return self._internal_error(facts)
        if result.injected:
            return Decision("injected", "injected", ",".join(result.injected), response, result)
        return Decision("skipped", result.skip_reason or "nothing-to-do", "", response, result)

    def _internal_error(self, facts: AdmissionFacts) -> Decision:
        return Decision(
            "error", "internal-error", "", internal_failure(facts.uid, self._allow_on_internal_error)
        )

    def _count(self, decision: Decision) -> None:
        """Counted only once the answer is encoded, so a review that failed late counts as an error only."""
        self._metrics.reviews.labels(decision.outcome, decision.reason).inc()
        for name in decision.conflicts:
            self._metrics.pod_security_conflicts.labels(name, "denied").inc()
        if decision.result is not None:
            for name in decision.result.injected:
                self._metrics.injections.labels(name).inc()
            for name in decision.result.pod_security_gaps:
                self._metrics.pod_security_conflicts.labels(name, "warned").inc()

    def failed_unread(self, body: bytes) -> Answer:
        """An internal error before the envelope was understood: the policy's answer needs the uid,
        so look for it; without one kube-apiserver could not match any answer, and gets a JSON 500."""
        self._metrics.reviews.labels("error", "internal-error").inc()
        uid = _uid_of(body)
        if uid is None:
            return Answer(500, error_body("the sidecar injector failed internally; see its logs"))
        return Answer(200, encode_review(internal_failure(uid, self._allow_on_internal_error)))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A review whose envelope was read, waiting to be decided."""

    review: ParsedReview
    started: float
    containers: int
    """Containers in the object's pod template: the engine's work grows with them."""


def _containers_in(obj: Any, kind: str) -> int:
    tokens = locate_pod_template(kind)
    node = obj
    for token in (*tokens, "spec") if tokens is not None else ():
        node = node.get(token) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return 0
    return sum(
        len(items)
        for items in (node.get("containers"), node.get("initContainers"))
        if isinstance(items, list)
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """What one review came to, before it is counted and logged."""

    outcome: str
    reason: str
    detail: str
    response: AdmissionResponse
    result: MutationResult | None = None
    conflicts: tuple[str, ...] = ()


def _uid_of(body: bytes) -> str | None:
    try:
        uid = orjson.loads(body)["request"]["uid"]
        orjson.dumps(uid)  # a uid the encoder refuses cannot be echoed either
    except Exception:
        return None
    return uid if isinstance(uid, str) and uid else None


def _object_name(metadata: object) -> str:
    if not isinstance(metadata, dict):
        return ""
    name = metadata.get("name") or (f"{metadata['generateName']}*" if metadata.get("generateName") else "")
    return str(name)
