"""Prometheus metrics shared by every edge; the core stays free of them and returns reason tokens."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values


def enable_multiprocess(directory: str) -> None:
    """Keep metric values in files under ``directory`` so a parent can sum its workers' metrics.

    Must run before any Metrics is built; prometheus-client picks its value class from this
    variable, which it otherwise only reads at import time.
    """
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class Metrics:
    """One registry per process (tests build their own, so counts never leak between them)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.reviews = Counter(
            "sidecar_injector_reviews",
            "Admission reviews answered, by outcome (injected, skipped, denied, error, rejected) and reason.",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.injections = Counter(
            "sidecar_injector_injections",
            "Templates injected into objects.",
            ["template"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sidecar_injector_review_duration_seconds",
            "Time from a parsed review to its encoded answer.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.template_loads = Counter(
            "sidecar_injector_template_loads",
            "Template documents loaded, by source and result (ok or error).",
            ["source", "result"],
            registry=self.registry,
        )
        self.templates_served = Gauge(
            "sidecar_injector_templates",
            "Templates currently in service.",
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.template_sync_age = Gauge(
            "sidecar_injector_template_source_last_sync_timestamp_seconds",
            "Unix time of each template source's last successful full sync (staleness = now - this).",
            ["source"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.certificate_not_after = Gauge(
            "sidecar_injector_certificate_expiry_timestamp_seconds",
            "Unix time at which the serving certificate in use expires.",
            registry=self.registry,
            multiprocess_mode="min",
        )
        self.certificate_reloads = Counter(
            "sidecar_injector_certificate_reloads",
            "Certificate reload attempts, by result (ok or error; on error the previous one stays).",
            ["result"],
            registry=self.registry,
        )
        self.pod_security_conflicts = Counter(
            "sidecar_injector_pod_security_conflicts",
            "Injections whose template needs a lower Pod Security level than the namespace enforces, "
            "by template and action (warned or denied).",
            ["template", "action"],
            registry=self.registry,
        )
        self.namespace_levels_sync = Gauge(
            "sidecar_injector_namespace_levels_last_sync_timestamp_seconds",
            "Unix time the namespace Pod Security level watch last confirmed it is current.",
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.reviews_in_progress = Gauge(
            "sidecar_injector_reviews_in_progress",
            "Reviews being received or decided (bounded by --max-inflight).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.request_bytes_buffered = Gauge(
            "sidecar_injector_request_bytes_buffered",
            "Bytes of review bodies held while they arrive (bounded by --max-buffered-bytes).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.connections = Gauge(
            "sidecar_injector_connections",
            "Connections open on the admission port, TLS handshakes included.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.connections_cut = Counter(
            "sidecar_injector_connections_cut",
            "Connections the server ended early, by reason: request-timeout, answer-not-read, "
            "pipelined, headers-too-large, bad-request, stalled (its request's share of the limits "
            "was needed), evicted (room for a new connection under --max-connections), "
            "close-timeout (no answer to the server's TLS goodbye within a second).",
            ["reason"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "sidecar_injector_ready",
            "1 while /readyz answers 200 (with workers: the least ready of them).",
            registry=self.registry,
            multiprocess_mode="min",
        )
