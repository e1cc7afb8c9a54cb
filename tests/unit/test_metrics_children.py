"""Children caches a counter's children: the same series and values as labels(), and a bounded cache."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from webhook.metrics import Children, Metrics


def test_a_cached_child_is_the_one_labels_returns_and_counts_in_the_exposition() -> None:
    through_children, through_labels = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    for _ in range(3):
        through_children.count_review("injected", "injected").inc()
        through_children.count_injection("logging-agent").inc()
        through_children.count_pod_security_conflict("logging-agent", "warned").inc()
        through_labels.reviews.labels("injected", "injected").inc()
        through_labels.injections.labels("logging-agent").inc()
        through_labels.pod_security_conflicts.labels("logging-agent", "warned").inc()
    assert through_children.count_review("injected", "injected") is through_children.reviews.labels(
        "injected", "injected"
    )
    assert samples(through_children) == samples(through_labels)
    exposition = generate_latest(through_children.registry)
    assert b'sidecar_injector_reviews_total{outcome="injected",reason="injected"} 3.0' in exposition
    assert b'sidecar_injector_injections_total{template="logging-agent"} 3.0' in exposition


def samples(metrics: Metrics) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    """Every sample but the creation times, which differ between two registries."""
    return sorted(
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in metrics.registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    )


def test_template_names_beyond_the_bound_are_counted_but_not_kept() -> None:
    metrics = Metrics(CollectorRegistry())
    children = Children(metrics.injections, limit=3)
    for name in [f"t{i}" for i in range(10)] * 2:
        children(name).inc()
    assert len(children) == 3
    for i in range(10):
        assert (
            metrics.registry.get_sample_value("sidecar_injector_injections_total", {"template": f"t{i}"}) == 2
        )
