"""What kube-apiserver refuses (422 with causes), what it adds (defaulting, Pod admission), and the
rules for Events, Leases and times."""

from __future__ import annotations

import pytest

from tests.fakes import ApiError, FakeApiServer
from tests.fakes.builders import cronjob, deployment, event_v1, job, lease, micro_time, pod, workload
from tests.fakes.conftest import NS
from tests.fakes.wire import Wire
from tests.support.validation import assert_valid

pytestmark = pytest.mark.integration

DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"


# ---------------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda p: p["spec"].update(containers=[]), "spec.containers", "FieldValueRequired"),
        (lambda p: p["spec"]["containers"][0].pop("image"), "spec.containers[0].image", "FieldValueRequired"),
        (
            lambda p: p["spec"]["containers"][0].update(
                volumeMounts=[{"name": "missing", "mountPath": "/x"}]
            ),
            "spec.containers[0].volumeMounts[0].name",
            "FieldValueNotFound",
        ),
        (
            lambda p: p["spec"].update(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
            "spec.containers[1].name",
            "FieldValueDuplicate",
        ),
        (
            lambda p: p["spec"].update(volumes=[{"name": "v", "emptyDir": {}, "configMap": {"name": "c"}}]),
            "spec.volumes[0].configMap",
            "FieldValueForbidden",
        ),
    ],
)
def test_a_broken_pod_spec_is_422(wire: Wire, mutate: object, field: str, reason: str) -> None:
    body = pod("p", NS)
    mutate(body)  # type: ignore[operator]
    response = wire.post(f"/api/v1/namespaces/{NS}/pods", body)
    assert response.status == 422
    assert {"field": field, "reason": reason} in [
        {"field": c["field"], "reason": c["reason"]} for c in response.body["details"]["causes"]
    ]


def test_a_selector_that_misses_the_template_is_422(wire: Wire) -> None:
    body = deployment("web", NS)
    body["spec"]["selector"]["matchLabels"] = {"app": "other"}
    response = wire.post(DEPLOYMENTS, body)
    assert response.status == 422
    assert response.body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


def test_pod_updates_may_change_images_only(fake: FakeApiServer) -> None:
    fake.create_object(pod("p", NS))
    fake.patch_object(
        "pods",
        NS,
        "p",
        {"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}},
        "application/strategic-merge-patch+json",
    )
    with pytest.raises(ApiError) as raised:
        sidecar = {"spec": {"containers": [{"name": "sidecar", "image": "fluentd:1"}]}}
        fake.patch_object("pods", NS, "p", sidecar, "application/strategic-merge-patch+json")
    assert raised.value.code == 422
    assert raised.value.status["details"]["causes"][0]["field"] == "spec"
    assert "pod updates may not change fields other than" in raised.value.message


def test_a_job_template_is_immutable_and_a_job_gets_a_generated_selector(fake: FakeApiServer) -> None:
    created = fake.create_object(job("migrate", NS))
    uid = created["metadata"]["uid"]
    assert created["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert created["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "migrate"
    with pytest.raises(ApiError) as raised:
        fake.patch_object(
            "jobs.batch", NS, "migrate", {"spec": {"template": {"metadata": {"labels": {"x": "y"}}}}}
        )
    assert raised.value.code == 422 and "spec.template: Invalid value" in raised.value.message


def test_a_job_that_restarts_always_is_refused(wire: Wire) -> None:
    body = job("migrate", NS)
    del body["spec"]["template"]["spec"]["restartPolicy"]  # defaulted to Always, which Jobs refuse
    response = wire.post(f"/apis/batch/v1/namespaces/{NS}/jobs", body)
    assert response.status == 422
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always"' in response.body["message"]


# ---------------------------------------------------------------------------------------------------
# Defaulting and admission


def test_pods_come_back_with_what_admission_adds(fake: FakeApiServer) -> None:
    body = pod("p", NS)
    body["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
    created = fake.create_object(body)
    spec = created["spec"]
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-")
    for container in spec["containers"] + spec["initContainers"]:
        assert container["volumeMounts"] == [
            {
                "name": volume["name"],
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            }
        ]
        assert container["terminationMessagePath"] == "/dev/termination-log"
    assert spec["initContainers"][0]["imagePullPolicy"] == "Always"  # no tag means latest
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert (spec["serviceAccountName"], spec["priority"], spec["enableServiceLinks"]) == ("default", 0, True)
    assert [t["key"] for t in spec["tolerations"]] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert created["metadata"]["generation"] == 1
    assert_valid(created)


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"])
def test_workloads_come_back_defaulted_and_schema_valid(fake: FakeApiServer, kind: str) -> None:
    created = fake.create_object(workload(kind, "web", NS))
    assert created["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "volumes" not in created["spec"]["template"]["spec"]  # admission mutates Pods, not templates
    assert_valid(created)


def test_a_deployment_gets_its_rollout_defaults(fake: FakeApiServer) -> None:
    spec = fake.create_object(deployment("web", NS))["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)


def test_jobs_and_cronjobs_come_back_schema_valid(fake: FakeApiServer) -> None:
    assert_valid(fake.create_object(job("migrate", NS)))
    created = fake.create_object(cronjob("nightly", NS))
    assert created["spec"]["concurrencyPolicy"] == "Allow"
    assert_valid(created)


# ---------------------------------------------------------------------------------------------------
# Events and Leases


def test_events_k8s_io_events_need_every_field_the_strict_validation_asks(
    fake: FakeApiServer, wire: Wire
) -> None:
    target = fake.create_object(deployment("web", NS))
    body = event_v1(NS, target)
    for key in ("eventTime", "reportingController", "action"):
        del body[key]
    response = wire.post(f"/apis/events.k8s.io/v1/namespaces/{NS}/events", body)
    assert response.status == 422
    fields = [c["field"] for c in response.body["details"]["causes"]]
    assert "eventTime" in fields
    assert response.body["message"].startswith('Event.events.k8s.io "web.')


def test_core_events_keep_the_legacy_rules(fake: FakeApiServer, wire: Wire) -> None:
    target = fake.create_object(deployment("web", NS))
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.1"},
        "involvedObject": {
            "kind": "Deployment",
            "name": "web",
            "namespace": NS,
            "uid": target["metadata"]["uid"],
        },
        "reason": "Injected",
        "message": "done",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": "2026-01-01T10:00:00.123+02:00",
    }
    created = wire.post(f"/api/v1/namespaces/{NS}/events", body).body
    assert created["firstTimestamp"] == "2026-01-01T08:00:00Z"  # a metav1.Time: UTC, whole seconds
    assert (created["eventTime"], created["lastTimestamp"], created["source"]) == (None, None, {})
    as_v1 = wire.get(f"/apis/events.k8s.io/v1/namespaces/{NS}/events/web.1").body
    assert (as_v1["note"], as_v1["deprecatedCount"], as_v1["deprecatedFirstTimestamp"]) == (
        "done",
        1,
        "2026-01-01T08:00:00Z",
    )


def test_an_events_k8s_io_event_is_immutable_but_its_series(fake: FakeApiServer) -> None:
    target = fake.create_object(deployment("web", NS))
    created = fake.create_object({**event_v1(NS, target), "metadata": {"namespace": NS, "name": "web.1"}})
    series = {"series": {"count": 2, "lastObservedTime": micro_time()}}
    patched = fake.patch_object(
        "events.events.k8s.io", NS, "web.1", series, "application/strategic-merge-patch+json"
    )
    assert patched["series"]["count"] == 2
    with pytest.raises(ApiError) as raised:
        fake.patch_object("events.events.k8s.io", NS, "web.1", {"note": "changed"})
    assert raised.value.code == 422 and "message: Invalid value" in raised.value.message
    assert created["metadata"]["uid"] == patched["metadata"]["uid"]


def test_micro_times_need_six_fractional_digits(wire: Wire) -> None:
    body = lease("leader", NS, "a")
    body["spec"]["renewTime"] = "2026-01-01T00:00:00Z"
    response = wire.post(LEASES, body)
    assert (response.status, response.body["reason"]) == (400, "BadRequest")
    assert (
        'parsing time "2026-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00"'
        in response.body["message"]
    )
    body["spec"]["renewTime"] = "2026-01-01T02:00:00.000001+02:00"
    assert wire.post(LEASES, body).body["spec"]["renewTime"] == "2026-01-01T00:00:00.000001Z"
