"""PATCH (JSON patch, merge patch, strategic merge patch), DELETE and the router's refusals, as
kube-apiserver answers them."""

from __future__ import annotations

from typing import Any

import kubernetes.client
import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import configmap, deployment, job, pod
from tests.fakes.conftest import NS
from tests.fakes.wire import Wire

pytestmark = pytest.mark.integration

CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
SMP = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


@pytest.fixture
def web(fake: FakeApiServer) -> dict[str, Any]:
    body = deployment("web", NS)
    spec = pod_spec(body)
    spec["containers"][0].update(
        env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        ports=[{"containerPort": 80}],
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
    )
    spec["volumes"] = [{"name": "data", "emptyDir": {}}]
    spec["imagePullSecrets"] = [{"name": "registry"}]
    return fake.create_object(body)


# ---------------------------------------------------------------------------------------------------
# JSON patch and merge patch


def test_json_patch_applies_in_order_and_a_failed_test_is_the_generic_422(
    wire: Wire, web: dict[str, Any]
) -> None:
    version = web["metadata"]["resourceVersion"]
    patch = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": version},
        {"op": "add", "path": "/metadata/labels", "value": {"tier": "front"}},
    ]
    assert wire.patch(f"{DEPLOYMENTS}/web", patch, JSON_PATCH).body["metadata"]["labels"] == {"tier": "front"}
    stale = wire.patch(f"{DEPLOYMENTS}/web", patch, JSON_PATCH)
    assert stale.status == 422
    assert stale.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "details": {},
        "code": 422,
    }


def test_a_json_patch_that_is_not_a_list_of_operations_is_400(wire: Wire, web: dict[str, Any]) -> None:
    response = wire.patch(f"{DEPLOYMENTS}/web", {"op": "add"}, JSON_PATCH)
    assert (response.status, response.body["reason"]) == (400, "BadRequest")
    assert response.body["message"] == "json: cannot unmarshal object into Go value of type jsonpatch.Patch"


def test_merge_patch_replaces_lists_and_null_removes(wire: Wire, web: dict[str, Any]) -> None:
    patch = {
        "spec": {
            "template": {"spec": {"imagePullSecrets": None, "containers": [{"name": "only", "image": "x:1"}]}}
        }
    }
    spec = pod_spec(wire.patch(f"{DEPLOYMENTS}/web", patch).body)
    assert "imagePullSecrets" not in spec
    assert [c["name"] for c in spec["containers"]] == ["only"]


def test_an_unparsable_merge_patch_is_400_invalid_json_patch(wire: Wire, web: dict[str, Any]) -> None:
    response = wire.request(
        "PATCH", f"{DEPLOYMENTS}/web", raw=b"{not json", content_type="application/merge-patch+json"
    )
    assert (response.status, response.body["message"]) == (400, "Invalid JSON Patch")


def test_a_patch_carrying_a_stale_resource_version_is_409(wire: Wire, web: dict[str, Any]) -> None:
    stale = web["metadata"]["resourceVersion"]
    wire.patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 3}})
    response = wire.patch(
        f"{DEPLOYMENTS}/web", {"metadata": {"resourceVersion": stale}, "spec": {"replicas": 4}}
    )
    assert (response.status, response.body["reason"]) == (409, "Conflict")


def test_an_unknown_patch_type_is_the_routers_415(wire: Wire, web: dict[str, Any]) -> None:
    for content_type in ("application/json", "text/plain"):
        response = wire.patch(f"{DEPLOYMENTS}/web", {"spec": {}}, content_type)
        assert response.status == 415
        assert "reason" not in response.body
        assert (
            response.body["message"]
            == "the server responded with the status code 415 but did not return more information"
        )


def test_a_patch_to_the_status_subresource_changes_only_status(wire: Wire, web: dict[str, Any]) -> None:
    patched = wire.patch(
        f"{DEPLOYMENTS}/web/status", {"spec": {"replicas": 9}, "status": {"replicas": 2}}
    ).body
    assert (patched["spec"]["replicas"], patched["status"]) == (2, {"replicas": 2})


# ---------------------------------------------------------------------------------------------------
# Strategic merge patch


def test_strategic_merge_merges_containers_env_ports_mounts_volumes_and_secrets(
    wire: Wire, web: dict[str, Any]
) -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
                            "ports": [{"containerPort": 9090}],
                            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                        },
                        {"name": "sidecar", "image": "fluentd:1"},
                    ],
                    "initContainers": [{"name": "setup", "image": "busybox:1"}],
                    "volumes": [{"name": "cache", "emptyDir": {}}],
                    "imagePullSecrets": [{"name": "mirror"}],
                }
            }
        }
    }
    spec = pod_spec(wire.patch(f"{DEPLOYMENTS}/web", patch, SMP).body)
    app = spec["containers"][0]
    assert [c["name"] for c in spec["containers"]] == ["app", "sidecar"]
    assert app["image"] == "nginx:1.25"  # kept: the patch named the container, not its image
    assert [(e["name"], e["value"]) for e in app["env"]] == [("A", "1"), ("B", "two"), ("C", "3")]
    assert [p["containerPort"] for p in app["ports"]] == [80, 9090]
    assert [m["mountPath"] for m in app["volumeMounts"]] == ["/data", "/cache"]
    assert [v["name"] for v in spec["volumes"]] == ["data", "cache"]
    assert [s["name"] for s in spec["imagePullSecrets"]] == ["registry", "mirror"]
    assert [c["name"] for c in spec["initContainers"]] == ["setup"]


def test_strategic_merge_directives_delete_and_replace(wire: Wire, web: dict[str, Any]) -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "env": [{"name": "A", "$patch": "delete"}],
                            "volumeMounts": [{"$patch": "replace"}],
                        }
                    ],
                    "volumes": [{"name": "data", "$patch": "delete"}],
                    "securityContext": {"$patch": "replace", "runAsNonRoot": True},
                }
            }
        },
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"], "finalizers": ["keep"]},
    }
    patched = wire.patch(f"{DEPLOYMENTS}/web", patch, SMP).body
    spec = pod_spec(patched)
    assert [e["name"] for e in spec["containers"][0]["env"]] == ["B"]
    assert spec["containers"][0]["volumeMounts"] == []
    assert "volumes" in spec and spec["volumes"] == []
    assert spec["securityContext"] == {"runAsNonRoot": True}
    assert patched["metadata"]["finalizers"] == ["keep"]


def test_an_element_without_its_merge_key_is_the_unconverted_500(wire: Wire, web: dict[str, Any]) -> None:
    patch = {"spec": {"template": {"spec": {"volumes": [{"hostPath": {"path": "/var/lib/kubelet/pods"}}]}}}}
    response = wire.patch(f"{DEPLOYMENTS}/web", patch, SMP)
    assert response.status == 500
    assert "reason" not in response.body
    assert (
        response.body["message"]
        == "map: map[hostPath:map[path:/var/lib/kubelet/pods]] does not contain declared merge key: name"
    )


def test_the_official_client_patches_objects_strategically(
    fake: FakeApiServer, client: kubernetes.client.ApiClient
) -> None:
    fake.create_object(pod("p", NS))
    core = kubernetes.client.CoreV1Api(client)
    core.patch_namespaced_pod("p", NS, {"metadata": {"labels": {"a": "b"}}})
    assert fake.requests[-1].content_type == SMP  # a dict body: the client switches json-patch to strategic
    assert core.read_namespaced_pod("p", NS).metadata.labels == {"a": "b"}


# ---------------------------------------------------------------------------------------------------
# Delete


def test_delete_answers_a_success_status_or_the_object(fake: FakeApiServer, wire: Wire) -> None:
    created = fake.create_object(configmap("a", NS))
    response = wire.delete(f"{CONFIGMAPS}/a")
    assert response.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "a", "kind": "configmaps", "uid": created["metadata"]["uid"]},
    }
    fake.create_object(pod("p", NS))
    assert wire.delete(f"/api/v1/namespaces/{NS}/pods/p").body["kind"] == "Pod"
    missing = wire.delete(f"{CONFIGMAPS}/a")
    assert (missing.status, missing.body["message"]) == (404, 'configmaps "a" not found')


def test_delete_preconditions_that_fail_are_409(fake: FakeApiServer, wire: Wire) -> None:
    created = fake.create_object(configmap("a", NS))
    response = wire.delete(f"{CONFIGMAPS}/a", {"preconditions": {"uid": "someone-else"}})
    assert response.status == 409
    assert response.body["message"] == (
        f'Operation cannot be fulfilled on configmaps "a": Precondition failed: UID in precondition: someone-else, '
        f"UID in object meta: {created['metadata']['uid']}"
    )


def test_finalizers_hold_an_object_until_the_last_one_goes(fake: FakeApiServer, wire: Wire) -> None:
    body = configmap("a", NS)
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    fake.create_object(body)
    deleting = wire.delete(f"{CONFIGMAPS}/a").body
    assert deleting["metadata"]["deletionTimestamp"] and deleting["kind"] == "ConfigMap"
    assert wire.get(f"{CONFIGMAPS}/a").status == 200
    wire.patch(f"{CONFIGMAPS}/a", {"metadata": {"finalizers": None}})
    assert wire.get(f"{CONFIGMAPS}/a").status == 404


def test_the_garbage_collector_follows_owner_references(fake: FakeApiServer) -> None:
    fake.create_object(deployment("web", NS, replicas=2))
    fake.complete_rollout("deployments.apps", NS, "web")
    assert len(fake.list_objects("pods", NS)) == 2
    fake.delete_object("deployments.apps", NS, "web")
    assert fake.list_objects("replicasets.apps", NS) == [] and fake.list_objects("pods", NS) == []


def test_orphaning_keeps_dependents_and_is_the_default_for_jobs(fake: FakeApiServer) -> None:
    owner = fake.create_object(job("migrate", NS))
    dependent = pod("migrate-x", NS)
    dependent["spec"]["restartPolicy"] = "Never"
    dependent["metadata"]["ownerReferences"] = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "migrate", "uid": owner["metadata"]["uid"]}
    ]
    fake.create_object(dependent)
    fake.delete_object("jobs.batch", NS, "migrate")
    (left,) = fake.list_objects("pods", NS)
    assert "ownerReferences" not in left["metadata"]


# ---------------------------------------------------------------------------------------------------
# The router's refusals


@pytest.mark.parametrize(
    ("method", "path", "code", "reason", "message"),
    [
        (
            "GET",
            "/api/v1/namespaces/shop/widgets",
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        ("GET", "/api/v1/pods/p", 404, "NotFound", "the server could not find the requested resource"),
        (
            "POST",
            f"{CONFIGMAPS}/a",
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
        (
            "PUT",
            CONFIGMAPS,
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
    ],
)
def test_what_no_route_serves_is_a_generic_status(
    wire: Wire, method: str, path: str, code: int, reason: str, message: str
) -> None:
    response = wire.request(method, path, {"a": 1})
    assert (response.status, response.body["reason"], response.body["message"], response.body["details"]) == (
        code,
        reason,
        message,
        {},
    )


def test_a_body_in_an_unknown_format_is_415_unsupported_media_type(wire: Wire) -> None:
    response = wire.request("POST", CONFIGMAPS, configmap("a", NS), content_type="text/plain")
    assert (response.status, response.body["reason"]) == (415, "UnsupportedMediaType")
    assert response.body["message"].startswith("the body of the request was in an unknown format")
    assert (
        wire.request("POST", CONFIGMAPS, configmap("a", NS), content_type=None).status == 201
    )  # none is JSON
