"""The server's Pod watch over real HTTP: metadata only, a small projection per Pod, counts by
template and state kept current, and a bounded number of template names whatever Pods say."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import pod
from tests.support.templates import template_set
from webhook.core import InjectionPolicy, TemplateSet
from webhook.core.lifecycle import PodMetadata
from webhook.core.model import NamespaceMetadata
from webhook.core.status import InjectionStatus, StatusEntry, render_status
from webhook.kube.resources import Resources
from webhook.kube.watch import Timings
from webhook.lifecycle.inventory import pod_projection
from webhook.lifecycle.podwatch import MAX_OTHER_NAMES, OTHER, PodCounts, PodWatch, lean_projection

POLICY = InjectionPolicy()


def templates(image: str) -> TemplateSet:
    return template_set(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shipper, labels: {sidecar-injector.io/template: 'true'}}\n"
        f"data:\n  template: |\n    containers: [{{name: shipper, image: '{image}'}}]\n"
    )


def status(**revisions: str) -> str:
    return render_status(InjectionStatus(tuple(StatusEntry(n, r) for n, r in revisions.items()))).text


def annotated(name: str, **annotations: str) -> dict[str, Any]:
    created = pod(name, "shop")
    created["metadata"]["annotations"] = annotations
    return created


def eventually(check: Callable[[], bool], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def exported() -> list[PodCounts]:
    return []


@pytest.fixture
def watch(resources: Resources, exported: list[PodCounts]) -> Iterator[tuple[PodWatch, list[TemplateSet]]]:
    current = [templates("shipper:1")]
    watch = PodWatch(
        resources,
        lambda: current[0],
        POLICY,
        exported.append,
        interval=0.05,
        timings=Timings(watch_timeout=5),
    )
    yield watch, current
    watch.stop()


def test_pods_are_counted_by_template_and_state_and_kept_current(
    fake: FakeApiServer, watch: tuple[PodWatch, list[TemplateSet]], exported: list[PodCounts]
) -> None:
    pod_watch, current = watch
    rev1 = current[0].resolve("shipper", "shop").revision  # type: ignore[union-attr]
    for index in range(3):
        fake.create_object(annotated(f"web-{index}", **{"sidecar-injector.io/status": status(shipper=rev1)}))
    fake.create_object(annotated("missed", **{"sidecar-injector.io/inject": "shipper"}))
    fake.create_object(pod("plain", "shop"))

    pod_watch.start()
    assert eventually(
        lambda: (
            bool(exported)
            and exported[-1] == {("shipper", "current"): 3, ("shipper", "missing-injection"): 1}
        )
    )

    current[0] = templates("shipper:2")  # a new revision: every injected Pod is outdated now
    assert eventually(
        lambda: exported[-1] == {("shipper", "outdated"): 3, ("shipper", "missing-injection"): 1}
    )
    fake.delete_object("pods", "shop", "missed")
    assert eventually(lambda: exported[-1] == {("shipper", "outdated"): 3})

    requests = [r for r in fake.requests if r.resource == "pods"]
    assert {r.headers.get("accept", "").split(";as=")[-1].split(";")[0] for r in requests} == {
        "PartialObjectMetadataList",
        "PartialObjectMetadata",
    }, "metadata only, for the list and for the watch"


def test_a_pod_opted_in_by_its_namespace_alone_counts_as_missing_and_follows_the_namespace(
    fake: FakeApiServer, resources: Resources, exported: list[PodCounts]
) -> None:
    """ "Opted in" is the server's decision (core/optin.py) with the namespace watch's labels."""
    namespaces: dict[str, NamespaceMetadata] = {}
    fake.create_object(pod("plain", "shop"))
    fake.create_object(annotated("opted-out", **{"sidecar-injector.io/inject": "false"}))
    labelled = pod("by-label", "shop")
    labelled["metadata"]["labels"] = {"sidecar-injector.io/inject": "shipper"}
    fake.create_object(labelled)
    pod_watch = PodWatch(
        resources,
        lambda: templates("shipper:1"),
        POLICY,
        exported.append,
        namespaces=lambda name: namespaces.get(name, NamespaceMetadata()),
        interval=0.05,
        timings=Timings(watch_timeout=5),
    )
    pod_watch.start()
    try:
        assert eventually(lambda: bool(exported) and exported[-1] == {("shipper", "missing-injection"): 1})
        # The namespace is labelled: its Pods opted in, counted again without any Pod changing.
        namespaces["shop"] = NamespaceMetadata(labels={"sidecar-injector.io/inject": "shipper"})
        assert eventually(lambda: exported[-1] == {("shipper", "missing-injection"): 2})
    finally:
        pod_watch.stop()


def test_the_template_label_is_bounded_whatever_pods_claim(
    fake: FakeApiServer, watch: tuple[PodWatch, list[TemplateSet]], exported: list[PodCounts]
) -> None:
    """Hostile: anyone who can create a Pod can write a status annotation naming any template."""
    for index in range(MAX_OTHER_NAMES + 30):
        fake.create_object(
            annotated(f"p{index}", **{"sidecar-injector.io/status": status(**{f"fake-{index}": "0"})})
        )
    pod_watch, _ = watch
    pod_watch.start()
    assert eventually(lambda: bool(exported) and sum(exported[-1].values()) == MAX_OTHER_NAMES + 30)
    names = {template for template, _ in exported[-1]}
    assert len(names) == MAX_OTHER_NAMES + 1 and OTHER in names
    assert exported[-1][(OTHER, "template-gone")] == 30


def test_a_pod_is_kept_as_a_small_projection() -> None:
    big = annotated(
        "web-1",
        **{
            "sidecar-injector.io/status": "{}",
            "kubectl.kubernetes.io/last-applied-configuration": "x" * 10_000,
        },
    )
    big["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}] * 20
    big["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "web-5d8f", "controller": True, "uid": "u"}
    ]
    projected = pod_projection(POLICY)(big)
    assert projected == {
        "metadata": {
            "namespace": "shop",
            "name": "web-1",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d8f", "controller": True}],
        },
        "injector": PodMetadata({"sidecar-injector.io/status": "{}"}),
    }


def test_the_watch_keeps_one_shared_projection_per_distinct_pod() -> None:
    project = lean_projection(POLICY)
    replicas = [annotated(f"web-{i}", **{"sidecar-injector.io/status": "{}", "other": "x"}) for i in range(3)]
    for replica in replicas:
        replica["metadata"]["managedFields"] = [{"manager": "kubelet"}] * 10
    projected = [project(replica) for replica in replicas]
    assert projected[0] == {
        "namespace": "shop",
        "annotations": (("sidecar-injector.io/status", "{}"),),
        "labels": (),
    }
    assert projected[0] is projected[1] is projected[2], "replicas share one object"
    assert project(annotated("other", **{"sidecar-injector.io/status": "[]"})) is not projected[0]
