"""Prometheus metrics shared by every edge; the core stays free of them and returns reason tokens."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

from webhook.core.model import Template

# Up to 30 s, kube-apiserver's largest webhook timeoutSeconds: with a top bucket of 2.5 s a p99 near
# a 5 s timeout could never be seen (histogram_quantile stops at the highest finite bucket).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# (outcome, reason) pairs of sidecar_injector_reviews_total that the chart's alerts count.
ALERTED_REVIEW_OUTCOMES = (
    ("error", "internal-error"),
    ("rejected", "overloaded"),
    ("rejected", "expired"),
    ("rejected", "body-too-large"),
    ("rejected", "bad-envelope"),
    ("skipped", "template-not-found"),
    ("denied", "template-not-found"),
    ("denied", "pod-security"),
)


EVENT_DROP_REASONS = ("queue-full", "rejected", "api-error", "overflow")

# Children kept per counter by Children: outcome/reason pairs are a closed set, template names are
# not (a stream of ConfigMaps with new names), so past this many the others are looked up each time.
CACHED_CHILDREN = 512


def multiprocess() -> bool:
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


def enable_multiprocess(directory: str) -> None:
    """Keep metric values in files under ``directory`` so a parent can sum its workers' metrics.

    Must run before any Metrics is built; prometheus-client picks its value class from this
    variable, which it otherwise only reads at import time.
    """
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


MultiprocessMode = Literal["min", "max", "livesum"]


class Metrics:
    """One registry per process (tests build their own, so counts never leak between them).

    Gauges name their multiprocess mode: how ``serve --workers`` sums the workers' values.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._add_review_metrics()
        self._add_template_metrics()
        self._add_certificate_metrics()
        self._add_pod_security_metrics()
        self._add_load_metrics()
        self._add_template_series_metrics()
        self._add_lifecycle_metrics()
        self._add_event_metrics()
        self.count_review = Children(self.reviews)
        self.count_injection = Children(self.injections)
        self.count_pod_security_conflict = Children(self.pod_security_conflicts)
        self._template_series = _TemplateSeries(self)
        self._pod_series: set[tuple[str, ...]] = set()
        self._start_alerted_series_at_zero()

    def _counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(
        self, name: str, documentation: str, mode: MultiprocessMode, labels: Sequence[str] = ()
    ) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry, multiprocess_mode=mode)

    def _add_review_metrics(self) -> None:
        self.reviews = self._counter(
            "sidecar_injector_reviews",
            "Admission reviews answered, by outcome (injected, skipped, denied, error, rejected) and reason.",
            ["outcome", "reason"],
        )
        self.injections = self._counter(
            "sidecar_injector_injections", "Templates injected into objects.", ["template"]
        )
        self.latency = Histogram(
            "sidecar_injector_review_duration_seconds",
            "Time from a parsed review to its encoded answer.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def _add_template_metrics(self) -> None:
        self.template_loads = self._counter(
            "sidecar_injector_template_loads",
            "Template documents loaded, by source and result (ok or error).",
            ["source", "result"],
        )
        self.templates_served = self._gauge(
            "sidecar_injector_templates", "Templates currently in service.", "max"
        )
        self.template_source_last_sync = self._gauge(
            "sidecar_injector_template_source_last_sync_timestamp_seconds",
            "Unix time of each template source's last successful full sync (staleness = now - this).",
            "max",
            ["source"],
        )

    def _add_certificate_metrics(self) -> None:
        self.certificate_not_after = self._gauge(
            "sidecar_injector_certificate_expiry_timestamp_seconds",
            "Unix time at which the serving certificate in use expires.",
            "min",
        )
        self.certificate_reloads = self._counter(
            "sidecar_injector_certificate_reloads",
            "Certificate reload attempts, by result (ok or error; on error the previous one stays).",
            ["result"],
        )
        self.certificate_reload_failing = self._gauge(
            "sidecar_injector_certificate_reload_failing",
            "1 while the last attempt to load a changed certificate failed (the previous one is served).",
            "max",
        )

    def _add_pod_security_metrics(self) -> None:
        self.pod_security_conflicts = self._counter(
            "sidecar_injector_pod_security_conflicts",
            "Injections whose template needs a lower Pod Security level than the namespace enforces, "
            "by template and action (warned or denied).",
            ["template", "action"],
        )
        self.namespace_levels_last_sync = self._gauge(
            "sidecar_injector_namespace_levels_last_sync_timestamp_seconds",
            "Unix time the namespace Pod Security level watch last confirmed it is current.",
            "max",
        )

    def _add_load_metrics(self) -> None:
        self.reviews_in_progress = self._gauge(
            "sidecar_injector_reviews_in_progress",
            "Reviews being received or decided (bounded by --max-inflight).",
            "livesum",
        )
        self.request_bytes_buffered = self._gauge(
            "sidecar_injector_request_bytes_buffered",
            "Bytes of review bodies held while they arrive (bounded by --max-buffered-bytes).",
            "livesum",
        )
        self.connections = self._gauge(
            "sidecar_injector_connections",
            "Connections open on the admission port, TLS handshakes included.",
            "livesum",
        )
        self.connections_cut = self._counter(
            "sidecar_injector_connections_cut",
            "Connections the server ended early, by reason: request-timeout, answer-not-read, "
            "pipelined, headers-too-large, bad-request, stalled (its request's share of the limits "
            "was needed), evicted (room for a new connection under --max-connections), "
            "close-timeout (no answer to the server's TLS goodbye within a second).",
            ["reason"],
        )
        self.ready = self._gauge(
            "sidecar_injector_ready",
            "1 while /readyz answers 200 (with workers: the least ready of them).",
            "min",
        )

    def _add_template_series_metrics(self) -> None:
        self.template_info = self._gauge(
            "sidecar_injector_template_info",
            "1 for the template each document serves, with its name, namespace (empty: cluster-wide) "
            "and content revision.",
            "max",
            ["source", "document", "template", "template_namespace", "revision"],
        )
        self.template_rejected_since = self._gauge(
            "sidecar_injector_template_rejected_timestamp_seconds",
            "Unix time since which a template document has been rejected, while it is; template and "
            "revision name the last good version still served (empty when there is none).",
            "max",
            ["source", "document", "template", "revision"],
        )

    def _add_lifecycle_metrics(self) -> None:
        self.pods = self._gauge(
            "sidecar_injector_pods",
            "Pods by template and state (current, outdated, missing-injection, template-gone), from "
            "the metadata-only Pod watch (--watch-pods); template (other) gathers names beyond the cap.",
            "max",
            ["template", "state"],
        )
        self.pod_watch_last_sync = self._gauge(
            "sidecar_injector_pod_watch_last_sync_timestamp_seconds",
            "Unix time the Pod watch last confirmed it is current.",
            "max",
        )
        self.rollout_actions = self._counter(
            "sidecar_injector_rollout_actions",
            "What the rolling updater did to workloads, by template, action (restart, upgrade, list) "
            "and result (done, failed, listed).",
            ["template", "action", "result"],
        )
        self.rollout_leader = self._gauge(
            "sidecar_injector_rollout_leader",
            "1 while this replica holds the rolling updater's Lease.",
            "max",
        )

    def export_pods(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Set the Pod series to ``counts``; series no longer counted go (or drop to 0 with workers)."""
        current: dict[tuple[str, ...], float] = {labels: float(n) for labels, n in counts.items()}
        _replace(self.pods, self._pod_series, current)
        self._pod_series = set(current)

    def _add_event_metrics(self) -> None:
        self.events_dropped = self._counter(
            "sidecar_injector_events_dropped",
            "Kubernetes Events not recorded, by reason: queue-full (the sender was behind, e.g. backing "
            "off), rejected (the API refused the Event), api-error (failed too often), overflow "
            "(too many distinct Events at once to aggregate).",
            ["reason"],
        )
        self.events_requests = self._counter(
            "sidecar_injector_events_requests",
            "Requests the Events sender made, by request (lookup, create, patch) and result (ok, error).",
            ["request", "result"],
        )
        self.events_aggregated = self._counter(
            "sidecar_injector_events_aggregated",
            "Occurrences counted into an Event already recorded (its series.count) instead of a new one.",
        )

    def _start_alerted_series_at_zero(self) -> None:
        """Create the series the alerts watch with increase() or rate() before their first event.

        A counter series that first appears at 1 has no earlier sample, so increase() cannot see
        that first event (and a single failure would never alert).
        """
        for outcome, reason in ALERTED_REVIEW_OUTCOMES:
            self.reviews.labels(outcome, reason)
        for result in ("ok", "error"):
            self.certificate_reloads.labels(result)
        for reason in EVENT_DROP_REASONS:
            self.events_dropped.labels(reason)

    def export_templates(self, documents: Iterable[TemplateDocument]) -> None:
        """Publish which revision each template document serves and since when it is rejected."""
        self._template_series.export(documents)


class Children:
    """A labelled counter's children, each looked up once: ``labels()`` checks its arguments, builds
    a tuple of ``str()``s and takes the counter's lock on every call, about 1.5 µs per review and
    counter. The child is the very one ``labels()`` returns (prometheus-client keeps it for the
    counter's life), so counts and the exposition are unchanged. Only for counters whose series are
    never removed: a removed series' child would keep counting unseen.
    """

    def __init__(self, counter: Counter, limit: int = CACHED_CHILDREN) -> None:
        self._counter = counter
        self._limit = limit
        self._children: dict[tuple[str, ...], Counter] = {}

    def __call__(self, *labels: str) -> Counter:
        child = self._children.get(labels)
        if child is None:
            child = self._counter.labels(*labels)
            if len(self._children) < self._limit:
                self._children[labels] = child
        return child

    def __len__(self) -> int:
        return len(self._children)


class TemplateDocument(Protocol):
    """What the template store knows of one document (webhook.templates.store.DocumentStatus)."""

    @property
    def source(self) -> str: ...
    @property
    def document(self) -> str: ...
    @property
    def serving(self) -> Template | None: ...
    @property
    def error(self) -> object | None: ...
    @property
    def updated(self) -> float: ...


class _TemplateSeries:
    """Keeps the per-document template series equal to the store's state.

    A series whose document is gone, fixed or serves a new revision is removed; in multiprocess mode
    prometheus-client cannot remove a series (the workers' files keep it), so it is set to 0 and
    queries select ``== 1`` / ``> 0``.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._info: set[tuple[str, ...]] = set()
        self._rejected: dict[tuple[str, ...], float] = {}

    def export(self, documents: Iterable[TemplateDocument]) -> None:
        info: set[tuple[str, ...]] = set()
        rejected: dict[tuple[str, ...], float] = {}
        first_rejected = {key[:2]: since for key, since in self._rejected.items()}
        for doc in documents:
            served = doc.serving
            name, namespace, revision = (
                (served.name, served.namespace or "", served.revision) if served else ("", "", "")
            )
            if served is not None:
                info.add((doc.source, doc.document, name, namespace, revision))
            if doc.error is not None:
                # Since the first rejection: a second broken edit does not restart the clock.
                since = first_rejected.get((doc.source, doc.document), doc.updated)
                rejected[(doc.source, doc.document, name, revision)] = since
        _replace(self._metrics.template_info, self._info, dict.fromkeys(info, 1.0))
        _replace(self._metrics.template_rejected_since, set(self._rejected), rejected)
        self._info, self._rejected = info, rejected


def _replace(gauge: Gauge, previous: set[tuple[str, ...]], current: dict[tuple[str, ...], float]) -> None:
    for labels in previous - current.keys():
        if multiprocess():
            gauge.labels(*labels).set(0)
        else:
            gauge.remove(*labels)
    for labels, value in current.items():
        gauge.labels(*labels).set(value)
