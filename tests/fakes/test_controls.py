"""The test controls: playing the workload controllers, faults, RBAC refusals, the request record —
and the official client's leader election against the fake's Leases."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from tests.fakes import FakeApiServer
from tests.fakes.builders import configmap, deployment, event_v1, workload
from tests.fakes.conftest import NS
from tests.fakes.wire import Wire, eventually
from tests.support.validation import assert_valid

pytestmark = pytest.mark.integration

EVENTS = f"/apis/events.k8s.io/v1/namespaces/{NS}/events"


def new_image(fake: FakeApiServer, plural: str, name: str, image: str) -> dict[str, Any]:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    return fake.patch_object(plural, NS, name, patch, "application/strategic-merge-patch+json")


# ---------------------------------------------------------------------------------------------------
# Rollouts


def test_a_completed_deployment_rollout_looks_like_the_controllers_work(fake: FakeApiServer) -> None:
    fake.create_object(deployment("web", NS, replicas=2))
    new_image(fake, "deployments.apps", "web", "nginx:1.26")
    done = fake.complete_rollout("deployments.apps", NS, "web")
    status = done["status"]
    assert status["observedGeneration"] == done["metadata"]["generation"] == 2
    assert (
        status["replicas"],
        status["updatedReplicas"],
        status["readyReplicas"],
        status["availableReplicas"],
    ) == (2, 2, 2, 2)
    progressing = {c["type"]: c for c in status["conditions"]}["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")
    assert done["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    (replicaset,) = fake.list_objects("replicasets.apps", NS)
    assert replicaset["metadata"]["ownerReferences"][0]["uid"] == done["metadata"]["uid"]
    pods = fake.list_objects("pods", NS)
    assert len(pods) == 2
    for pod in pods:
        assert pod["metadata"]["ownerReferences"][0]["name"] == replicaset["metadata"]["name"]
        assert (
            pod["metadata"]["labels"]["pod-template-hash"]
            == replicaset["metadata"]["labels"]["pod-template-hash"]
        )
        assert pod["spec"]["containers"][0]["image"] == "nginx:1.26"
        assert pod["status"]["phase"] == "Running"
        assert_valid(pod)


def test_a_new_template_rolls_to_a_new_replicaset_and_new_pods(fake: FakeApiServer) -> None:
    fake.create_object(deployment("web", NS, replicas=1))
    fake.complete_rollout("deployments.apps", NS, "web")
    (old_pod,) = fake.list_objects("pods", NS)
    new_image(fake, "deployments.apps", "web", "nginx:1.27")
    done = fake.complete_rollout("deployments.apps", NS, "web")
    assert done["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    replicasets = {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
        for rs in fake.list_objects("replicasets.apps", NS)
    }
    assert (replicasets["1"]["spec"]["replicas"], replicasets["2"]["spec"]["replicas"]) == (0, 1)
    (new_pod,) = fake.list_objects("pods", NS)
    assert new_pod["metadata"]["uid"] != old_pod["metadata"]["uid"]
    assert new_pod["spec"]["containers"][0]["image"] == "nginx:1.27"


@pytest.mark.parametrize(("kind", "count"), [("StatefulSet", 2), ("DaemonSet", 1)])
def test_statefulsets_and_daemonsets_roll_their_pods(fake: FakeApiServer, kind: str, count: int) -> None:
    plural = f"{kind.lower()}s.apps"
    fake.create_object(workload(kind, "db", NS, replicas=2))
    fake.complete_rollout(plural, NS, "db")
    new_image(fake, plural, "db", "postgres:17")
    done = fake.complete_rollout(plural, NS, "db")
    assert done["status"]["observedGeneration"] == 2
    pods = fake.list_objects("pods", NS)
    assert len(pods) == count and {p["spec"]["containers"][0]["image"] for p in pods} == {"postgres:17"}
    if kind == "StatefulSet":
        assert sorted(p["metadata"]["name"] for p in pods) == ["db-0", "db-1"]
        assert done["status"]["currentRevision"] == done["status"]["updateRevision"]


def test_a_failed_deployment_rollout_reports_its_deadline_exceeded(fake: FakeApiServer) -> None:
    fake.create_object(deployment("web", NS))
    new_image(fake, "deployments.apps", "web", "nginx:broken")
    failed = fake.fail_rollout("deployments.apps", NS, "web")
    progressing = {c["type"]: c for c in failed["status"]["conditions"]}["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert failed["status"]["observedGeneration"] == failed["metadata"]["generation"]
    assert failed["status"]["updatedReplicas"] < failed["spec"]["replicas"]


def test_the_rollout_controller_completes_or_fails_rollouts_by_itself(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(deployment("web", NS))
    fake.create_object(deployment("broken", NS))
    fake.start_rollout_controller(delay=0.05, failing={("deployments.apps", NS, "broken")})

    def settled(name: str) -> dict[str, Any]:
        obj = wire.get(f"/apis/apps/v1/namespaces/{NS}/deployments/{name}").body
        return obj if obj["status"].get("observedGeneration") == obj["metadata"]["generation"] else {}

    eventually(lambda: settled("web") and settled("broken"), what="both rollouts observed")
    assert settled("web")["status"]["updatedReplicas"] == 2
    assert {c["reason"] for c in settled("broken")["status"]["conditions"]} >= {"ProgressDeadlineExceeded"}
    new_image(fake, "deployments.apps", "web", "nginx:1.26")
    eventually(lambda: settled("web").get("metadata", {}).get("generation") == 2, what="second rollout")
    fake.stop_rollout_controller()


# ---------------------------------------------------------------------------------------------------
# Faults


def test_a_failing_endpoint_answers_a_status_then_recovers(fake: FakeApiServer, wire: Wire) -> None:
    target = fake.create_object(deployment("web", NS))
    fault = fake.fail_requests(verb="create", resource="events.events.k8s.io", status=500, times=1)
    failed = wire.post(EVENTS, event_v1(NS, target))
    assert (failed.status, failed.body["reason"]) == (500, "InternalError")
    assert wire.post(EVENTS, event_v1(NS, target)).status == 201
    assert fault.hits == 1
    assert wire.get(f"/apis/apps/v1/namespaces/{NS}/deployments").status == 200  # other endpoints untouched


def test_a_hanging_endpoint_holds_the_request_until_the_client_gives_up(fake: FakeApiServer) -> None:
    fake.hang_requests(30.0, verb="create", resource="events.events.k8s.io")
    target = fake.create_object(deployment("web", NS))
    hanging = Wire(fake, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        hanging.post(EVENTS, event_v1(NS, target))
    assert time.monotonic() - started < 10  # held, and released by the client's own timeout
    assert Wire(fake).get(f"/apis/apps/v1/namespaces/{NS}/deployments/web").status == 200


def test_stopping_the_fake_ends_a_hang_at_once() -> None:
    fake = FakeApiServer().start()
    fake.create_namespace(NS)
    fake.hang_requests(60.0, verb="list")
    answers: list[object] = []

    def call() -> None:
        try:
            answers.append(Wire(fake, timeout=30).get(f"/api/v1/namespaces/{NS}/configmaps").status)
        except OSError as exc:
            answers.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    eventually(lambda: fake.count("list") == 1, what="the request arrived")
    fake.stop()
    caller.join(timeout=10)
    assert not caller.is_alive() and answers


# ---------------------------------------------------------------------------------------------------
# The record and RBAC


def test_requests_are_recorded_with_everything_a_test_asserts_on(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(configmap("a", NS))
    wire.patch(f"/api/v1/namespaces/{NS}/configmaps/a?fieldManager=test", {"data": {"k": "v"}})
    request = fake.requests[-1]
    assert (request.method, request.path, request.query) == (
        "PATCH",
        f"/api/v1/namespaces/{NS}/configmaps/a",
        "fieldManager=test",
    )
    assert (request.verb, request.resource, request.content_type) == (
        "patch",
        "configmaps",
        "application/merge-patch+json",
    )
    assert request.json() == {"data": {"k": "v"}}
    assert fake.count("patch", "configmaps") == 1 and fake.count("get") == 0


def test_forbid_refuses_as_rbac_does_for_the_verbs_named(fake: FakeApiServer, wire: Wire) -> None:
    fake.forbid("leases.coordination.k8s.io", verbs={"update"})
    leases = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
    assert wire.get(leases).status == 200
    refused = wire.put(f"{leases}/x", {"metadata": {"name": "x"}})
    assert refused.status == 403
    assert refused.body["message"] == (
        'leases.coordination.k8s.io "x" is forbidden: User "system:serviceaccount:injector:sidecar-injector" '
        f'cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "{NS}"'
    )
    assert refused.body["details"] == {"name": "x", "group": "coordination.k8s.io", "kind": "leases"}


# ---------------------------------------------------------------------------------------------------
# Leader election with the official client (kubernetes.leaderelection, LeaseLock)


@pytest.fixture
def elect(fake: FakeApiServer) -> Iterator[Callable[[str], list[str]]]:
    events: list[str] = []
    threads: list[threading.Thread] = []

    def start(identity: str) -> list[str]:
        configuration = kubernetes.client.Configuration(host=fake.host)
        configuration.retries = 0
        api_client = kubernetes.client.ApiClient(configuration)
        api_client.user_agent = f"candidate/{identity}"
        lock = LeaseLock("injector-leader", NS, identity)
        lock.api_instance = kubernetes.client.CoordinationV1Api(api_client)
        config = electionconfig.Config(
            lock,
            lease_duration=2,
            renew_deadline=1.5,
            retry_period=1,
            onstarted_leading=lambda: events.append(f"{identity} leads"),
            onstopped_leading=lambda: events.append(f"{identity} stopped"),
        )
        # The library refuses periods under a second; shorter ones keep this test fast.
        config.lease_duration, config.renew_deadline, config.retry_period = 1, 0.5, 0.1
        thread = threading.Thread(target=leaderelection.LeaderElection(config).run, daemon=True)
        threads.append(thread)
        thread.start()
        return events

    yield start
    fake.fail_requests(resource="leases.coordination.k8s.io", status=503)  # every candidate gives up
    for thread in threads:
        thread.join(timeout=10)


def test_one_lease_holder_leads_and_another_takes_over_when_it_cannot_renew(
    fake: FakeApiServer, elect: Callable[[str], list[str]]
) -> None:
    events = elect("a")
    eventually(lambda: events == ["a leads"], what="a leads")
    elect("b")
    time.sleep(0.3)  # b runs several rounds and finds the lease held
    assert events == ["a leads"]
    lease = fake.get_object("leases.coordination.k8s.io", NS, "injector-leader")
    assert (lease["spec"]["holderIdentity"], lease["spec"]["leaseDurationSeconds"]) == ("a", 1)
    fake.fail_requests(resource="leases.coordination.k8s.io", user_agent="candidate/a", status=503)
    eventually(lambda: events == ["a leads", "a stopped", "b leads"], what="b takes over")
    assert (
        fake.get_object("leases.coordination.k8s.io", NS, "injector-leader")["spec"]["holderIdentity"] == "b"
    )
    updates = [r for r in fake.requests if r.verb == "update"]
    assert all(r.json()["metadata"]["resourceVersion"] for r in updates)  # every renewal is conditional


def test_a_lease_renewal_from_a_stale_read_conflicts(
    fake: FakeApiServer, client: kubernetes.client.ApiClient
) -> None:
    coordination = kubernetes.client.CoordinationV1Api(client)
    created = coordination.create_namespaced_lease(
        NS, {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 5}}
    )
    coordination.patch_namespaced_lease("l", NS, {"spec": {"holderIdentity": "b"}})
    with pytest.raises(ApiException) as raised:
        coordination.replace_namespaced_lease("l", NS, created)
    assert raised.value.status == 409
