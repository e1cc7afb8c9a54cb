"""The template series the alerts and the dashboard read: which revision each document serves, and
since when a document has been rejected while its last good version is still served."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from webhook.core import Template
from webhook.metrics import Metrics
from webhook.templates import TemplateError
from webhook.templates.store import TemplateStore

INFO = "sidecar_injector_template_info"
REJECTED = "sidecar_injector_template_rejected_timestamp_seconds"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def template(name: str, revision: str, namespace: str | None = None) -> Template:
    return Template(
        name=name, revision=revision, containers=({"name": name, "image": "i"},), namespace=namespace
    )


def broken(doc: str, problem: str = "an injected container needs an image") -> TemplateError:
    return TemplateError(doc, "template", "containers[0].image", problem)


def series(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name
    }


@pytest.fixture
def setup() -> tuple[TemplateStore, CollectorRegistry, Clock]:
    registry, clock = CollectorRegistry(), Clock()
    return TemplateStore(metrics=Metrics(registry), clock=clock), registry, clock


def info_labels(document: str, name: str, revision: str, namespace: str = "") -> tuple[tuple[str, str], ...]:
    labels = {
        "source": "s",
        "document": document,
        "template": name,
        "template_namespace": namespace,
        "revision": revision,
    }
    return tuple(sorted(labels.items()))


def rejected_labels(document: str, name: str, revision: str) -> tuple[tuple[str, str], ...]:
    labels = {"source": "s", "document": document, "template": name, "revision": revision}
    return tuple(sorted(labels.items()))


def test_each_document_reports_the_revision_it_serves_and_only_that_one(
    setup: tuple[TemplateStore, CollectorRegistry, Clock],
) -> None:
    store, registry, _ = setup
    store.replace_source("s", {"doc-a": template("a", "r1"), "doc-b": template("b", "r7", "team-b")})
    assert series(registry, INFO) == {
        info_labels("doc-a", "a", "r1"): 1.0,
        info_labels("doc-b", "b", "r7", "team-b"): 1.0,
    }
    store.replace_source("s", {"doc-a": template("a", "r2")})
    assert series(registry, INFO) == {info_labels("doc-a", "a", "r2"): 1.0}


def test_a_rejected_update_is_timed_from_its_first_rejection_until_it_is_fixed(
    setup: tuple[TemplateStore, CollectorRegistry, Clock],
) -> None:
    store, registry, clock = setup
    store.replace_source("s", {"doc-a": template("a", "r1")})
    assert series(registry, REJECTED) == {}

    clock.now = 2_000.0
    store.replace_source("s", {"doc-a": broken("doc-a")})
    assert series(registry, REJECTED) == {rejected_labels("doc-a", "a", "r1"): 2_000.0}
    assert series(registry, INFO) == {info_labels("doc-a", "a", "r1"): 1.0}  # still served

    clock.now = 3_000.0  # another broken edit: still rejected since the first one
    store.replace_source("s", {"doc-a": broken("doc-a", "a different mistake")})
    assert series(registry, REJECTED) == {rejected_labels("doc-a", "a", "r1"): 2_000.0}

    store.replace_source("s", {"doc-a": template("a", "r2")})
    assert series(registry, REJECTED) == {}
    clock.now = 4_000.0
    store.replace_source("s", {"doc-a": broken("doc-a")})
    assert series(registry, REJECTED) == {rejected_labels("doc-a", "a", "r2"): 4_000.0}


def test_a_rejected_new_document_has_no_last_good_version(
    setup: tuple[TemplateStore, CollectorRegistry, Clock],
) -> None:
    store, registry, clock = setup
    store.replace_source("s", {"doc-new": broken("doc-new")})
    assert series(registry, REJECTED) == {rejected_labels("doc-new", "", ""): clock.now}
    assert series(registry, INFO) == {}
    store.replace_source("s", {})
    assert series(registry, REJECTED) == {}


def test_in_multiprocess_mode_a_stale_series_is_zeroed_because_it_cannot_be_removed(
    setup: tuple[TemplateStore, CollectorRegistry, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, registry, _ = setup
    store.replace_source("s", {"doc-a": template("a", "r1")})
    store.replace_source("s", {"doc-a": broken("doc-a")})
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent")  # only read by metrics.multiprocess()
    store.replace_source("s", {"doc-a": template("a", "r2")})
    assert series(registry, INFO) == {
        info_labels("doc-a", "a", "r1"): 0.0,
        info_labels("doc-a", "a", "r2"): 1.0,
    }
    assert series(registry, REJECTED) == {rejected_labels("doc-a", "a", "r1"): 0.0}
