"""The request path does no file or network I/O and counts every review exactly once."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import kubernetes.client
import orjson
from prometheus_client import CollectorRegistry

from tests.fakes import FakeApiServer
from tests.fakes.wire import eventually
from tests.support.asgi import AsgiClient
from tests.support.reviews import opted_in_pod, review
from tests.support.templates import template_set
from webhook.core import InjectionPolicy
from webhook.core.pod_security import ENFORCE_LABEL
from webhook.events.recorder import EventRecorder
from webhook.events.series import EventTimings
from webhook.kube.events import EventsClient
from webhook.kube.namespaces import NamespaceMirror
from webhook.metrics import Metrics
from webhook.server.app import Limits, Probes, create_app
from webhook.server.handler import ReviewHandler

SEED = (Path(__file__).parents[3] / "examples" / "logging-agent-initializer.yaml").read_text()
IO_EVENTS = ("open", "os.", "socket.", "subprocess.", "shutil.", "urllib.", "http.client", "ctypes.")
_recording: list[str] = []
_active = False
_thread = threading.get_ident()


def _hook(event: str, args: Any) -> None:
    # Only the thread handling reviews counts: a watch thread's background I/O is expected.
    if _active and threading.get_ident() == _thread and event.startswith(IO_EVENTS) and event != "os.getcwd":
        _recording.append(f"{event} {args!r:.120}")


sys.addaudithook(_hook)  # audit hooks cannot be removed; it records only while _active is set


def test_handling_reviews_opens_no_file_and_no_socket() -> None:
    global _active
    metrics = Metrics(CollectorRegistry())
    snapshot = template_set(SEED)
    handler = ReviewHandler(lambda: snapshot, InjectionPolicy(), metrics)
    bodies = [
        orjson.dumps(review(opted_in_pod())),
        orjson.dumps(review(opted_in_pod("missing"))),
        orjson.dumps(
            review({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}})
        ),
        b"{not json",
    ]
    handler.handle(bodies[0])  # warm up lazy imports, which legitimately open files once
    _recording.clear()
    _active = True
    try:
        for _ in range(20):
            for body in bodies:
                handler.handle(body)
    finally:
        _active = False
    assert _recording == []


def test_the_namespace_lookups_are_in_memory_while_a_real_watch_runs() -> None:
    global _active
    with FakeApiServer(bookmark_interval=0.05) as api:
        api.create_namespace("team-a", {ENFORCE_LABEL: "restricted", "sidecar-injector.io/inject": "other"})
        levels = NamespaceMirror(configuration=kubernetes.client.Configuration(host=api.host))
        levels.start()
        try:
            assert levels.wait_synced(10)
            snapshot = template_set(SEED)
            handler = ReviewHandler(
                lambda: snapshot,
                InjectionPolicy(),
                Metrics(CollectorRegistry()),
                namespace_levels=levels.level,
                namespaces=levels.metadata,
            )
            body = orjson.dumps(review(opted_in_pod(), namespace="team-a"))
            handler.handle(body)
            _recording.clear()
            _active = True
            try:
                answers = [handler.handle(body) for _ in range(50)]
            finally:
                _active = False
        finally:
            levels.stop()
    assert _recording == []
    warnings = json.loads(answers[-1].body)["response"]["warnings"]
    assert "enforces 'restricted'" in warnings[0]  # the level really came from the watch
    assert levels.metadata("team-a").labels == {"sidecar-injector.io/inject": "other"}


def test_events_leave_through_a_queue_while_the_events_api_fails_and_hangs() -> None:
    """With the Events recorder wired in as the runtime wires it, and its sender talking to an API
    server whose events endpoint first fails and then hangs, the handling thread still does no I/O."""
    global _active
    with FakeApiServer() as api:
        api.create_namespace("default")
        api.fail_requests(verb="create", resource="events.events.k8s.io", status=500, times=5)
        api.hang_requests(60.0, verb="create", resource="events.events.k8s.io")
        client = EventsClient(timeout=30.0, configuration=kubernetes.client.Configuration(host=api.host))
        metrics = Metrics(CollectorRegistry())
        timings = EventTimings(backoff_initial=0.01, backoff_cap=0.05)
        recorder = EventRecorder(client, instance="test", queue_size=8, metrics=metrics, timings=timings)
        snapshot = template_set(SEED)
        handler = ReviewHandler(lambda: snapshot, InjectionPolicy(), metrics, on_decided=recorder.admission)
        recorder.start()
        pods = [opted_in_pod() for _ in range(200)]
        for index, pod in enumerate(pods):  # from 200 ReplicaSets: 200 Events, more than the queue holds
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"rs-{index}", "uid": f"u{index}"}
            pod["metadata"]["ownerReferences"] = [{**owner, "controller": True}]
        bodies = [orjson.dumps(review(pod)) for pod in pods]
        handler.handle(bodies[0])
        _recording.clear()
        _active = True
        try:
            answers = [handler.handle(body) for body in bodies]
        finally:
            _active = False
        try:
            eventually(lambda: api.count("create", "events.events.k8s.io") >= 6, what="failures, then a hang")
        finally:
            api.clear_faults()
            api.refuse_connections(0.1)  # releases a held request
            recorder.stop()
    assert _recording == []
    assert all(b'"patchType":"JSONPatch"' in answer.body for answer in answers)


def test_the_metrics_count_every_review_exactly_once_by_outcome_and_reason() -> None:
    metrics = Metrics(CollectorRegistry())
    snapshot = template_set(SEED)
    app = create_app(
        ReviewHandler(lambda: snapshot, InjectionPolicy(deny_missing_templates=True), metrics),
        Probes(),
        Limits(max_body_bytes=1 << 20),
    )
    client = AsgiClient(app)
    plain = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "b"}]},
    }
    sent = {"injected": 7, "denied": 3, "skipped": 5, "rejected": 2}
    for _ in range(sent["injected"]):
        client.post(
            "/mutate",
            content=json.dumps(review(opted_in_pod())),
            headers={"content-type": "application/json"},
        )
    for _ in range(sent["denied"]):
        client.post(
            "/mutate",
            content=json.dumps(review(opted_in_pod("nope"))),
            headers={"content-type": "application/json"},
        )
    for _ in range(sent["skipped"]):
        client.post(
            "/mutate", content=json.dumps(review(plain)), headers={"content-type": "application/json"}
        )
    for _ in range(sent["rejected"]):
        client.post("/mutate", content=b"[]", headers={"content-type": "application/json"})

    def value(name: str, **labels: str) -> float:
        result = metrics.registry.get_sample_value(name, labels)
        return result or 0.0

    assert value("sidecar_injector_reviews_total", outcome="injected", reason="injected") == 7
    assert value("sidecar_injector_reviews_total", outcome="denied", reason="template-not-found") == 3
    assert value("sidecar_injector_reviews_total", outcome="skipped", reason="not-requested") == 5
    assert value("sidecar_injector_reviews_total", outcome="rejected", reason="bad-envelope") == 2
    assert value("sidecar_injector_injections_total", template="logging-agent") == 7
    assert value("sidecar_injector_review_duration_seconds_count") == 15
