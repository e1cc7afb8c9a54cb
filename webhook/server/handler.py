"""ReviewHandler: one AdmissionReview body in, one HTTP answer out; framework-free so any ASGI route,
the benchmark and the tests drive the very same code."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

from webhook.core import (
    InjectionError,
    InjectionPolicy,
    InvalidObject,
    PodSecurityConflict,
    TemplateSet,
    mutate,
)
from webhook.metrics import Metrics
from webhook.server.review import (
    EnvelopeError,
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
        started = self._clock()
        try:
            review = parse_review(body)
        except EnvelopeError as exc:
            self._metrics.reviews.labels("rejected", "bad-envelope").inc()
            log.info("rejected review: HTTP %d: %s", exc.status, exc.message)
            return Answer(exc.status, error_body(exc.message))
        facts = review.facts
        if self._namespace_levels is not None:
            level = self._namespace_levels(facts.namespace)
            if level is not None:
                facts = dataclasses.replace(facts, pod_security_level=level)
        ops = 0
        try:
            result = mutate(review.object, facts, self._templates(), self._policy, verify=self._verify)
        except InjectionError as exc:
            outcome, reason = "denied", exc.reason
            response = deny(facts.uid, exc, 400 if isinstance(exc, InvalidObject) else 403)
            detail = exc.message
            if isinstance(exc, PodSecurityConflict):
                for name in exc.templates:
                    self._metrics.pod_security_conflicts.labels(name, "denied").inc()
        except Exception:
            log.exception("internal error on review uid=%s kind=%s", facts.uid, facts.kind)
            outcome, reason, detail = "error", "internal-error", ""
            response = internal_failure(facts.uid, self._allow_on_internal_error)
        else:
            ops = len(result.patch)
            if result.injected:
                outcome, reason, detail = "injected", "injected", ",".join(result.injected)
                for name in result.injected:
                    self._metrics.injections.labels(name).inc()
                for name in result.pod_security_gaps:
                    self._metrics.pod_security_conflicts.labels(name, "warned").inc()
            else:
                outcome, reason, detail = "skipped", result.skip_reason or "nothing-to-do", ""
            response = allow(facts.uid, result)
        encoded = encode_review(response)
        elapsed = self._clock() - started
        self._metrics.reviews.labels(outcome, reason).inc()
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
            outcome,
            reason,
            detail or "-",
            ops,
            facts.dry_run,
            elapsed * 1000,
        )
        return Answer(200, encoded)


def _object_name(metadata: object) -> str:
    if not isinstance(metadata, dict):
        return ""
    name = metadata.get("name") or (f"{metadata['generateName']}*" if metadata.get("generateName") else "")
    return str(name)
