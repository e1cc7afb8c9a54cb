"""The fake writes as kube-apiserver does: create, update, status, generation, conflicts, validation,
defaulting and admission, and the Status body of every refusal."""

from __future__ import annotations

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from tests.fakes import FakeApiServer
from tests.fakes.builders import configmap, deployment, event_v1, lease, workload
from tests.fakes.conftest import NS
from tests.fakes.wire import Wire, eventually

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
    wire.delete(f"{LEASES}/leader")
    again = lease("leader", NS, "b")
    again["metadata"]["resourceVersion"] = "1"  # from a read before the delete: creating ignores it
    assert wire.put(f"{LEASES}/leader", again).status == 201


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


def test_a_missing_object_is_404_naming_its_group_and_resource(wire: Wire) -> None:
    response = wire.get(f"{DEPLOYMENTS}/nothing")
    assert response.status == 404
    assert response.body["message"] == 'deployments.apps "nothing" not found'
    assert response.body["details"] == {"name": "nothing", "group": "apps", "kind": "deployments"}


def test_a_read_from_zero_may_be_stale_and_a_read_from_the_future_waits(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(configmap("a", NS, {"k": "old"}))
    fake.patch_object("configmaps", NS, "a", {"data": {"k": "new"}})
    fake.stale_cache(1)
    assert wire.get(f"{CONFIGMAPS}/a?resourceVersion=0").body["data"] == {"k": "old"}
    assert wire.get(f"{CONFIGMAPS}/a").body["data"] == {"k": "new"}
    assert wire.get(f"{CONFIGMAPS}/a?resourceVersion={fake.resource_version + 1}").status == 504


def test_the_official_events_client_writes_events_the_core_client_reads(
    fake: FakeApiServer, client: kubernetes.client.ApiClient
) -> None:
    target = fake.create_object(deployment("web", NS))
    created = kubernetes.client.EventsV1Api(client).create_namespaced_event(NS, event_v1(NS, target))
    assert created.metadata.name.startswith("web.")
    (core,) = kubernetes.client.CoreV1Api(client).list_namespaced_event(NS).items
    assert (core.message, core.involved_object.uid, core.reporting_component) == (
        "injected",
        target["metadata"]["uid"],
        "sidecar-injector.io/injector",
    )
    assert core.event_time is not None and core.first_timestamp is None
