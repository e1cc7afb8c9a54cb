"""ReviewHandler: what the admission port answers, recorded. One AdmissionReview body in, one HTTP
answer out; framework-free, so the ASGI app, the benchmark and the tests drive the very same code.

The decision is ``decision.AdmissionDecision`` (pure); this module times it, counts it in the
metrics and logs it: one line per review, one per refusal, and every internal error with its
traceback. Every answer the admission port gives goes through ``record()``, refusals included.
``on_decided`` sees every decided review after that (the runtime passes the Events recorder's,
which only queues: nothing here waits for the Kubernetes API).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from webhook.core import InjectionPolicy
from webhook.logconfig import DirectLog
from webhook.metrics import Metrics
from webhook.server.decision import (
    AdmissionDecision,
    NamespaceLevelLookup,
    NamespaceLookup,
    Outcome,
    TemplateSnapshotProvider,
    refused,
)
from webhook.server.refusal import Refusal
from webhook.server.review import ParsedReview

log = logging.getLogger(__name__)
# The per-review line skips the logging module's per-record work while only our handler would see it.
review_log = DirectLog(log)


@dataclass(frozen=True, slots=True, init=False)
class Answer:
    status: int
    body: bytes

    def __init__(self, status: int, body: bytes) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "body", body)


@dataclass(frozen=True, slots=True, init=False)
class Prepared:
    """A review whose envelope was read, waiting to be decided by :meth:`ReviewHandler.finish`."""

    review: ParsedReview
    started: float

    def __init__(self, review: ParsedReview, started: float) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "review", review)
        object.__setattr__(self, "started", started)

    @property
    def containers(self) -> int:
        return self.review.containers


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
        namespaces: NamespaceLookup | None = None,
        clock: Callable[[], float] = time.perf_counter,
        on_decided: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.decision = AdmissionDecision(
            templates,
            policy,
            allow_on_internal_error=allow_on_internal_error,
            verify_patches=verify_patches,
            namespace_levels=namespace_levels,
            namespaces=namespaces,
        )
        self._metrics = metrics
        self._clock = clock
        self._on_decided = on_decided

    def handle(self, body: bytes) -> Answer:
        """Answer one review; never raises."""
        prepared = self.prepare(body)
        return prepared if isinstance(prepared, Answer) else self.finish(prepared)

    def prepare(self, body: bytes) -> Prepared | Answer:
        """Read the envelope: a review to decide with :meth:`finish`, or the answer refusing it."""
        started = self._clock()
        review = self.decision.read(body)
        return self.record(review) if isinstance(review, Outcome) else Prepared(review, started)

    def finish(self, prepared: Prepared) -> Answer:
        """Decide a prepared review, then record it; never raises."""
        outcome = self.decision.decide(prepared.review)
        return self.record(outcome, self._clock() - prepared.started)

    def refuse(self, refusal: Refusal) -> Answer:
        """A refusal the app decided before the body was parsed (size, type, overload, lateness)."""
        return self.record(refused(refusal))

    def failed_unread(self, body: bytes, failure: BaseException | None = None, failed: str = "") -> Answer:
        """An internal error outside the decision's own guard (a bug in the request path)."""
        return self.record(self.decision.failed_unread(body, failure, failed))

    def record(self, outcome: Outcome, elapsed: float | None = None) -> Answer:
        """Log and count one outcome: counted only once its answer is encoded, so a review that
        failed late counts as an error only."""
        if outcome.failure is not None:
            log.error("internal error %s", outcome.failed, exc_info=outcome.failure)
        self._count(outcome)
        if outcome.outcome == "rejected":
            log.info("rejected review: HTTP %d (%s): %s", outcome.status, outcome.reason, outcome.detail)
        elif outcome.facts is not None:
            self._log_review(outcome, elapsed or 0.0)
        if elapsed is not None:
            self._metrics.latency.observe(elapsed)
        if self._on_decided is not None and outcome.facts is not None:
            self._notify(self._on_decided, outcome)
        return Answer(outcome.status, outcome.body)

    @staticmethod
    def _notify(on_decided: Callable[[Outcome], None], outcome: Outcome) -> None:
        """The answer is decided and counted: a failing observer must not change it."""
        try:
            on_decided(outcome)
        except Exception:
            uid = outcome.facts.uid if outcome.facts else "-"
            log.exception("observing review uid=%s failed; its answer stands", uid)

    def _count(self, outcome: Outcome) -> None:
        metrics = self._metrics
        metrics.count_review(outcome.outcome, outcome.reason).inc()
        for name in outcome.conflicts:
            metrics.count_pod_security_conflict(name, "denied").inc()
        if outcome.result is not None:
            for name in outcome.result.injected:
                metrics.count_injection(name).inc()
            for name in outcome.result.pod_security_gaps:
                metrics.count_pod_security_conflict(name, "warned").inc()

    @staticmethod
    def _log_review(outcome: Outcome, elapsed: float) -> None:
        facts = outcome.facts
        assert facts is not None
        review_log.info(
            "review uid=%s op=%s kind=%s object=%s/%s outcome=%s reason=%s detail=%s ops=%d "
            "dry_run=%s duration_ms=%.2f",
            facts.uid,
            facts.operation,
            facts.kind,
            facts.namespace,
            outcome.name,
            outcome.outcome,
            outcome.reason,
            outcome.detail or "-",
            len(outcome.result.patch) if outcome.result else 0,
            facts.dry_run,
            elapsed * 1000,
        )
