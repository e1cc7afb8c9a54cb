"""Events over the wire: the review handler with the Events recorder, against the fake API server.

Each test answers reviews through the real ``ReviewHandler`` (bytes in, bytes out) with the
recorder wired in as the runtime wires it, and reads what arrived at the fake kube-apiserver the way
``kubectl describe`` does (core/v1 Events selected by involvedObject name, namespace, kind and uid).
Waits are bounded polls; nothing here measures time (bench/events.py does, for the admission p99).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import kubernetes.client
import orjson
import pytest
from prometheus_client import CollectorRegistry

from tests.fakes import FakeApiServer
from tests.fakes.builders import workload
from tests.fakes.wire import Wire, eventually
from tests.support.reviews import review
from tests.support.templates import template_set
from webhook.core import InjectionPolicy
from webhook.events.recorder import EventRecorder
from webhook.events.sender import REPORTING_CONTROLLER
from webhook.events.series import EventTimings
from webhook.kube.events import EventsClient
from webhook.metrics import Metrics
from webhook.server.handler import ReviewHandler

pytestmark = pytest.mark.integration

NS = "shop"
EVENTS_V1 = "events.events.k8s.io"
TEMPLATES = """
apiVersion: v1
kind: ConfigMap
metadata: {name: log-shipper, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    containers:
    - name: shipper
      image: fluent/fluent-bit:3.2
"""
SNAPSHOT = template_set(TEMPLATES)
INJECT = {"sidecar-injector.io/inject": "log-shipper"}
FAST = EventTimings(
    window=60.0,
    update_interval=0.2,
    lookup_delays=(0.05, 0.1, 0.2, 0.4),
    backoff_initial=0.05,
    backoff_cap=0.2,
    request_timeout=1.0,
    flush_seconds=2.0,
)


@dataclass
class Injector:
    fake: FakeApiServer
    handler: ReviewHandler
    recorder: EventRecorder
    metrics: Metrics

    def admit(self, obj: dict[str, Any], operation: str = "CREATE", **request: Any) -> dict[str, Any]:
        answer = self.handler.handle(orjson.dumps(review(obj, operation, namespace=NS, **request)))
        assert answer.status == 200
        response: dict[str, Any] = orjson.loads(answer.body)["response"]
        return response

    def described(self, kind: str, name: str, uid: str | None = None) -> list[dict[str, Any]]:
        """The core/v1 Events ``kubectl describe`` lists for the object (its field selector)."""
        selector = f"involvedObject.name={name},involvedObject.namespace={NS},involvedObject.kind={kind}"
        if uid:
            selector += f",involvedObject.uid={uid}"
        query = urllib.parse.urlencode({"fieldSelector": selector})
        items: list[dict[str, Any]] = (
            Wire(self.fake).get(f"/api/v1/namespaces/{NS}/events?{query}").body["items"]
        )
        return items

    def events_v1(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            Wire(self.fake).get(f"/apis/events.k8s.io/v1/namespaces/{NS}/events").body["items"]
        )
        return items

    def sample(self, name: str, *labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, dict(zip(("reason",), labels, strict=False)))
        return value or 0.0

    def requests(self, request: str, result: str) -> float:
        labels = {"request": request, "result": result}
        return self.metrics.registry.get_sample_value("sidecar_injector_events_requests_total", labels) or 0.0


def injector_for(fake: FakeApiServer, queue_size: int = 64, timings: EventTimings = FAST) -> Injector:
    metrics = Metrics(CollectorRegistry())
    configuration = kubernetes.client.Configuration(host=fake.host)
    client = EventsClient(timeout=timings.request_timeout, configuration=configuration)
    recorder = EventRecorder(
        client, instance="injector-0", queue_size=queue_size, metrics=metrics, timings=timings
    )
    handler = ReviewHandler(lambda: SNAPSHOT, InjectionPolicy(), metrics, on_decided=recorder.admission)
    return Injector(fake, handler, recorder, metrics)


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        server.create_namespace(NS)
        yield server
    assert not server.internal_errors, server.internal_errors[0]


@pytest.fixture
def injector(fake: FakeApiServer) -> Iterator[Injector]:
    injector = injector_for(fake)
    injector.recorder.start()
    yield injector
    injector.recorder.stop()


def deployment(name: str = "web") -> dict[str, Any]:
    obj = workload("Deployment", name, NS)
    obj["spec"]["template"]["metadata"]["annotations"] = dict(INJECT)
    return obj


def stored(fake: FakeApiServer, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as kube-apiserver stores it (with its uid), for reviews of an UPDATE."""
    return fake.create_object(copy.deepcopy(obj))


def test_an_update_is_described_on_the_object_with_reason_note_and_reporter(injector: Injector) -> None:
    live = stored(injector.fake, deployment())
    uid = live["metadata"]["uid"]
    assert injector.admit(live, "UPDATE")["patchType"] == "JSONPatch"
    eventually(lambda: injector.described("Deployment", "web", uid), what="the Event")
    [event] = injector.described("Deployment", "web", uid)
    assert event["involvedObject"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": NS,
        "name": "web",
        "uid": uid,
    }
    assert (event["type"], event["reason"], event["action"]) == ("Normal", "Injected", "Inject")
    revision = SNAPSHOT.resolve("log-shipper", NS).revision  # type: ignore[union-attr]
    assert event["message"] == f"Injected log-shipper (revision {revision})"
    assert (event["reportingComponent"], event["reportingInstance"]) == (REPORTING_CONTROLLER, "injector-0")
    assert injector.fake.count("get", "deployments.apps") == 0  # the uid came with the review


def test_a_created_object_gets_its_uid_once_kube_apiserver_stored_it(fake: FakeApiServer) -> None:
    # Lookups every 0.1 s for 10 s: time enough, however loaded the machine, to store the object.
    injector = injector_for(fake, timings=dataclasses.replace(FAST, lookup_delays=(0.05,) + (0.1,) * 100))
    injector.recorder.start()
    assert injector.admit(deployment())["allowed"]
    fake = injector.fake
    eventually(lambda: fake.count("get", "deployments.apps") >= 1, what="a uid lookup")  # answered 404
    uid = stored(fake, deployment())["metadata"]["uid"]  # admission is over: the object is stored
    eventually(lambda: injector.described("Deployment", "web", uid), what="the Event with the uid")
    assert injector.fake.count("create", EVENTS_V1) == 1
    injector.recorder.stop()


def test_a_created_object_that_never_appears_still_gets_its_event_without_uid(injector: Injector) -> None:
    injector.admit(deployment("ghost"))
    eventually(lambda: injector.described("Deployment", "ghost"), what="the Event")
    [event] = injector.described("Deployment", "ghost")
    assert "uid" not in event["involvedObject"]
    assert injector.fake.count("get", "deployments.apps") == len(FAST.lookup_delays)


def test_a_pod_from_generate_name_is_described_on_its_replicaset(injector: Injector) -> None:
    rs = stored(injector.fake, workload("ReplicaSet", "web-6d8f9c7b5", NS))
    owner = {k: rs[k] for k in ("apiVersion", "kind")} | {k: rs["metadata"][k] for k in ("name", "uid")}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-6d8f9c7b5-",
            "namespace": NS,
            "annotations": dict(INJECT),
            "ownerReferences": [{**owner, "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }
    assert injector.admit(pod)["allowed"]
    uid = rs["metadata"]["uid"]
    eventually(lambda: injector.described("ReplicaSet", "web-6d8f9c7b5", uid), what="the Event")
    [event] = injector.described("ReplicaSet", "web-6d8f9c7b5", uid)
    assert event["message"].startswith("Pod web-6d8f9c7b5-*: injected log-shipper")
    assert injector.fake.count("get") == 0  # the owner reference carries the uid: no lookup


def test_dry_runs_and_objects_that_did_not_opt_in_send_nothing(fake: FakeApiServer) -> None:
    injector = injector_for(fake)
    injector.recorder.start()
    assert injector.admit(deployment("dry"), dryRun=True)["patchType"] == "JSONPatch"
    plain = workload("Deployment", "plain", NS)
    assert "patch" not in injector.admit(plain)
    opted_out = deployment("opted-out")
    opted_out["spec"]["template"]["metadata"]["annotations"] = {"sidecar-injector.io/inject": "false"}
    injector.admit(opted_out)
    injector.admit(deployment("marker"))
    injector.recorder.stop()  # sends everything queued before it returns
    assert [e["regarding"]["name"] for e in injector.events_v1()] == ["marker"]
    looked_up = {r.path.rsplit("/", 1)[-1] for r in fake.requests if r.verb == "get"}
    assert looked_up == {"marker"}


def test_identical_reviews_are_one_event_with_a_series_count(injector: Injector) -> None:
    live = stored(injector.fake, deployment())
    for _ in range(5):
        injector.admit(live, "UPDATE")

    def count() -> int:
        events = injector.events_v1()
        return (events[0].get("series") or {}).get("count", 1) if len(events) == 1 else 0

    eventually(lambda: count() == 5, what="one Event counting 5")
    assert injector.fake.count("create", EVENTS_V1) == 1
    assert injector.sample("sidecar_injector_events_aggregated_total") == 4
    [event] = injector.events_v1()
    assert event["series"]["lastObservedTime"] >= event["eventTime"]


def test_a_failing_events_endpoint_is_retried_with_backoff(injector: Injector) -> None:
    fault = injector.fake.fail_requests(verb="create", resource=EVENTS_V1, status=500, times=3)
    live = stored(injector.fake, deployment())
    assert injector.admit(live, "UPDATE")["patchType"] == "JSONPatch"
    eventually(injector.events_v1, what="the Event after three failures")
    # The fake stores the Event before the sender reads the answer and counts it.
    eventually(lambda: injector.requests("create", "ok") == 1, what="the successful create counted")
    assert fault.hits == 3
    assert injector.requests("create", "error") == 3


def test_an_event_the_api_refuses_is_dropped_and_counted_not_retried(fake: FakeApiServer) -> None:
    fake.forbid(EVENTS_V1, verbs={"create"})
    injector = injector_for(fake)
    injector.recorder.start()
    injector.admit(stored(fake, deployment()), "UPDATE")
    eventually(
        lambda: injector.sample("sidecar_injector_events_dropped_total", "rejected") == 1, what="a drop"
    )
    injector.recorder.stop()
    assert fake.count("create", EVENTS_V1) == 1


def test_a_hanging_events_endpoint_never_holds_an_admission(fake: FakeApiServer) -> None:
    """The sender is stuck in a request for the whole test; every review is still answered, with its
    patch, and the queue stays at its bound, dropping (and counting) the rest."""
    fake.hang_requests(60.0, verb="create", resource=EVENTS_V1)
    injector = injector_for(fake, queue_size=4, timings=dataclasses.replace(FAST, request_timeout=60.0))
    injector.recorder.start()
    live = [stored(fake, deployment(f"web-{i}")) for i in range(101)]
    injector.admit(live[0], "UPDATE")
    eventually(injector.recorder.sender.busy.is_set, what="the sender waiting on the API")
    for obj in live[1:]:
        response = injector.admit(obj, "UPDATE")
        assert response["allowed"] and json.loads(base64.b64decode(response["patch"]))
    assert injector.recorder.sender.busy.is_set()  # still waiting: no answer above waited for it
    assert injector.recorder.queued == 4
    assert injector.sample("sidecar_injector_events_dropped_total", "queue-full") == 96
    fake.clear_faults()
    fake.refuse_connections(0.2)  # ends the held request: the sender gives up on it and stops
    injector.recorder.stop()


def test_producers_on_several_threads_keep_the_queue_near_its_bound_and_count_every_drop(
    fake: FakeApiServer,
) -> None:
    """Reviews are decided on the event loop and on the large-review thread, template edits on the
    kube source's thread: appends race, without a lock. Each producer may pass the bound by at most
    its one append in flight; every review is either queued or counted as dropped."""
    fake.hang_requests(60.0, verb="create", resource=EVENTS_V1)
    injector = injector_for(fake, queue_size=8, timings=dataclasses.replace(FAST, request_timeout=60.0))
    injector.recorder.start()
    injector.admit(stored(fake, deployment("first")), "UPDATE")
    eventually(injector.recorder.sender.busy.is_set, what="the sender waiting on the API")
    producers, each = 4, 50
    live = [[stored(fake, deployment(f"web-{p}-{i}")) for i in range(each)] for p in range(producers)]

    def produce(objects: list[dict[str, Any]]) -> None:
        for obj in objects:
            assert injector.admit(obj, "UPDATE")["allowed"]

    threads = [threading.Thread(target=produce, args=(objects,)) for objects in live]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60.0)
    assert not any(thread.is_alive() for thread in threads)
    queued = injector.recorder.queued
    assert 8 <= queued <= 8 + producers - 1
    assert queued + injector.sample("sidecar_injector_events_dropped_total", "queue-full") == producers * each
    fake.clear_faults()
    fake.refuse_connections(0.2)
    injector.recorder.stop()
