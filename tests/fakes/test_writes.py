"""The fake writes as kube-apiserver does: create, update, status, generation, conflicts, validation,
defaulting and admission, and the Status body of every refusal."""

from __future__ import annotations

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from tests.fakes import ApiError, FakeApiServer
from tests.fakes.builders import (
    configmap,
    cronjob,
    deployment,
    event_v1,
    job,
    lease,
    micro_time,
    pod,
    workload,
)
from tests.fakes.conftest import NS
from tests.fakes.wire import Wire, eventually
from tests.support.validation import assert_valid

pytestmark = pytest.mark.integration

CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"


# ---------------------------------------------------------------------------------------------------
# Create


def test_the_server_sets_uid_timestamps_version_and_generation(wire: Wire, fake: FakeApiServer) -> None:
    body = deployment("web", NS)
    body["metadata"].update(uid="mine", generation=7, creationTimestamp="2001-01-01T00:00:00Z")
    body["status"] = {"replicas": 9}
    created = wire.post(DEPLOYMENTS, body)
    assert created.status == 201
    meta = created.body["metadata"]
    assert meta["uid"] != "mine" and len(meta["uid"]) == 36
    assert meta["generation"] == 1
    assert meta["creationTimestamp"] != "2001-01-01T00:00:00Z"
    assert meta["resourceVersion"] == str(fake.resource_version)
    assert created.body["status"] == {}
    plain = wire.post(CONFIGMAPS, configmap("settings", NS)).body
    assert "generation" not in plain["metadata"]


def test_generate_name_gets_a_random_suffix(wire: Wire) -> None:
    body = configmap("", NS)
    body["metadata"] = {"generateName": "web-", "namespace": NS}
    created = wire.post(CONFIGMAPS, body).body
    assert created["metadata"]["name"].startswith("web-") and len(created["metadata"]["name"]) == 9


def test_an_existing_name_is_409_already_exists(wire: Wire) -> None:
    wire.post(DEPLOYMENTS, deployment("web", NS))
    response = wire.post(DEPLOYMENTS, deployment("web", NS))
    assert response.status == 409
    assert response.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "web" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "web", "group": "apps", "kind": "deployments"},
        "code": 409,
    }


def test_creating_in_a_missing_or_terminating_namespace_is_refused(fake: FakeApiServer, wire: Wire) -> None:
    missing = wire.post("/api/v1/namespaces/nowhere/configmaps", configmap("a", "nowhere"))
    assert (missing.status, missing.body["message"]) == (404, 'namespaces "nowhere" not found')
    assert missing.body["details"] == {"name": "nowhere", "kind": "namespaces"}
    fake.deleter.namespace_finalize_delay = 5.0
    deleted = wire.delete(f"/api/v1/namespaces/{NS}")
    assert deleted.status == 200 and deleted.body["status"] == {"phase": "Terminating"}
    refused = wire.post(CONFIGMAPS, configmap("a", NS))
    assert (refused.status, refused.body["reason"]) == (403, "Forbidden")
    assert refused.body["message"].endswith(
        f"unable to create new content in namespace {NS} because it is being terminated"
    )
    assert refused.body["details"]["causes"][0]["reason"] == "NamespaceTerminating"


def test_a_deleted_namespace_goes_with_its_content(fake: FakeApiServer, wire: Wire) -> None:
    fake.deleter.namespace_finalize_delay = 0.0
    fake.create_object(configmap("a", NS))
    wire.delete(f"/api/v1/namespaces/{NS}")
    eventually(lambda: wire.get(f"/api/v1/namespaces/{NS}").status == 404, what="namespace finalized")
    assert wire.get(f"{CONFIGMAPS}/a").status == 404


@pytest.mark.parametrize(
    ("name", "field", "detail_start"),
    [
        ("Web", "metadata.name", "a lowercase RFC 1123 subdomain must consist of"),
        ("", "metadata.name", "name or generateName is required"),
    ],
)
def test_an_invalid_name_is_422_with_a_cause(wire: Wire, name: str, field: str, detail_start: str) -> None:
    response = wire.post(CONFIGMAPS, configmap(name, NS))
    assert (response.status, response.body["reason"]) == (422, "Invalid")
    (cause,) = response.body["details"]["causes"]
    assert cause["field"] == field
    assert detail_start in cause["message"]
    assert response.body["message"].startswith(f'ConfigMap "{name}" is invalid: {field}: ')


def test_a_resource_version_on_create_is_refused_by_the_storage(wire: Wire) -> None:
    body = configmap("a", NS)
    body["metadata"]["resourceVersion"] = "5"
    response = wire.post(CONFIGMAPS, body)
    assert (response.status, response.body["message"]) == (
        500,
        "resourceVersion should not be set on objects to be created",
    )


def test_a_body_for_another_namespace_is_400(wire: Wire) -> None:
    response = wire.post(CONFIGMAPS, configmap("a", "elsewhere"))
    assert (response.status, response.body["message"]) == (
        400,
        "the namespace of the provided object does not match the namespace sent on the request",
    )


def test_dry_run_answers_without_storing(fake: FakeApiServer, wire: Wire) -> None:
    before = fake.resource_version
    response = wire.post(f"{CONFIGMAPS}?dryRun=All", configmap("a", NS))
    assert response.status == 201 and response.body["metadata"]["name"] == "a"
    assert fake.resource_version == before and wire.get(f"{CONFIGMAPS}/a").status == 404
    assert wire.post(f"{CONFIGMAPS}?dryRun=Yes", configmap("a", NS)).status == 422


# ---------------------------------------------------------------------------------------------------
# Update


def test_a_stale_resource_version_is_409_conflict(
    fake: FakeApiServer, client: kubernetes.client.ApiClient
) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    read = apps.create_namespaced_deployment(NS, deployment("web", NS))
    apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 3}})
    with pytest.raises(ApiException) as raised:
        apps.replace_namespaced_deployment("web", NS, read)
    assert raised.value.status == 409
    assert '"reason": "Conflict"' in raised.value.body
    assert (
        'Operation cannot be fulfilled on deployments.apps \\"web\\": the object has been modified'
        in raised.value.body
    )


def test_leases_require_a_resource_version_and_may_be_created_by_put(wire: Wire) -> None:
    created = wire.put(f"{LEASES}/leader", lease("leader", NS, "a"))
    assert created.status == 201
    body = created.body
    del body["metadata"]["resourceVersion"]
    response = wire.put(f"{LEASES}/leader", body)
    assert response.status == 422
    assert response.body["message"] == (
        'leases.coordination.k8s.io "leader" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
        "must be specified for an update"
    )
    assert wire.put(f"{CONFIGMAPS}/nothing", configmap("nothing", NS)).status == 404  # no create-on-update


def test_the_url_names_the_object(wire: Wire) -> None:
    wire.post(CONFIGMAPS, configmap("a", NS))
    response = wire.put(f"{CONFIGMAPS}/a", configmap("b", NS))
    assert (response.status, response.body["message"]) == (
        400,
        "the name of the object (b) does not match the name on the URL (a)",
    )


def test_an_update_that_changes_nothing_writes_nothing(fake: FakeApiServer, wire: Wire) -> None:
    created = wire.post(CONFIGMAPS, configmap("a", NS, {"k": "v"})).body
    again = wire.put(f"{CONFIGMAPS}/a", created).body
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert fake.resource_version == int(created["metadata"]["resourceVersion"])


@pytest.mark.parametrize(
    ("kind", "change", "moves"),
    [
        ("Deployment", {"spec": {"replicas": 5}}, True),
        ("Deployment", {"metadata": {"annotations": {"team": "a"}}}, True),  # copied to ReplicaSets
        ("Deployment", {"metadata": {"labels": {"team": "a"}}}, False),
        ("StatefulSet", {"metadata": {"annotations": {"team": "a"}}}, False),
        ("DaemonSet", {"spec": {"minReadySeconds": 5}}, True),
        ("StatefulSet", {"status": {"replicas": 5}}, False),
    ],
)
def test_generation_moves_on_spec_changes_only(
    fake: FakeApiServer, kind: str, change: dict[str, dict[str, object]], moves: bool
) -> None:
    fake.create_object(workload(kind, "web", NS))
    plural = f"{kind.lower()}s.apps"
    patched = fake.patch_object(plural, NS, "web", change)
    assert patched["metadata"]["generation"] == (2 if moves else 1)


def test_the_main_resource_ignores_status_and_the_status_subresource_ignores_the_rest(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(deployment("web", NS))
    ignored = wire.patch(f"{DEPLOYMENTS}/web", {"status": {"replicas": 7}}).body
    assert ignored["status"] == {}
    body = wire.get(f"{DEPLOYMENTS}/web").body
    body["spec"]["replicas"] = 9
    body["metadata"]["labels"] = {"changed": "yes"}
    body["status"] = {"observedGeneration": 1, "replicas": 2}
    updated = wire.put(f"{DEPLOYMENTS}/web/status", body).body
    assert updated["status"] == {"observedGeneration": 1, "replicas": 2}
    assert updated["spec"]["replicas"] == 2 and "labels" not in updated["metadata"]
    assert updated["metadata"]["generation"] == 1
    assert wire.get(f"/api/v1/namespaces/{NS}/configmaps/x/status").status == 404  # no such subresource


def test_daemonsets_carry_the_template_generation_annotation(fake: FakeApiServer) -> None:
    created = fake.create_object(workload("DaemonSet", "agent", NS))
    assert created["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "1"}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}}}
    patched = fake.patch_object(
        "daemonsets.apps", NS, "agent", patch, "application/strategic-merge-patch+json"
    )
    assert patched["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "2"}


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
