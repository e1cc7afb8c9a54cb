"""The day-2 API calls over real HTTP against the fake apiserver: paged metadata-only lists, reads,
patches of each type, Leases, and every failure as a KubeError."""

from __future__ import annotations

from typing import Any

import kubernetes.client
import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import deployment, lease, pod
from tests.unit.kube.conftest import NS
from webhook.kube.client import KubeError
from webhook.kube.resources import Resources


def test_a_metadata_only_list_comes_in_pages_of_partial_objects(
    fake: FakeApiServer, api_client: kubernetes.client.ApiClient
) -> None:
    for index in range(23):
        created = pod(f"p{index:02}", NS, team="a")
        created["metadata"]["annotations"] = {"sidecar-injector.io/status": f"s{index}"}
        fake.create_object(created)

    listed = Resources(api_client).list_all("Pod", NS, metadata_only=True, page_size=10)

    assert [p["metadata"]["name"] for p in listed] == [f"p{i:02}" for i in range(23)]
    assert all(p["kind"] == "PartialObjectMetadata" and "spec" not in p for p in listed)
    assert listed[7]["metadata"]["annotations"] == {"sidecar-injector.io/status": "s7"}
    lists = [r for r in fake.requests if r.verb == "list"]
    assert [r.params.get("limit") for r in lists] == ["10", "10", "10"]
    assert "continue" not in lists[0].params and lists[1].params.get("continue")
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    assert all(r.headers.get("accept") == accept for r in lists)


def test_an_empty_metadata_only_list_is_empty(api_client: kubernetes.client.ApiClient) -> None:
    """kube-apiserver answers items: null there; that is not a broken list."""
    assert Resources(api_client).list_all("Pod", NS, metadata_only=True) == []


def test_a_list_whose_continue_token_expired_starts_again(
    fake: FakeApiServer, api_client: kubernetes.client.ApiClient
) -> None:
    for index in range(5):
        fake.create_object(pod(f"p{index}", NS))
    compactions = []

    def compact_after_the_first_page(obj: dict[str, Any]) -> dict[str, Any]:
        if not compactions:
            fake.create_object(pod("late", NS))
            fake.compact()  # the first page's snapshot is gone: its continue token expires
            compactions.append(True)
        return {"name": obj["metadata"]["name"]}

    listed = Resources(api_client).list_all("Pod", NS, page_size=2, transform=compact_after_the_first_page)

    assert sorted(p["name"] for p in listed) == ["late", "p0", "p1", "p2", "p3", "p4"]
    assert fake.count("list", "pods") == 5  # a page, the 410 of the next, then 3 pages of the new snapshot


def test_read_and_patch_of_each_type(fake: FakeApiServer, api_client: kubernetes.client.ApiClient) -> None:
    fake.create_object(deployment("web", NS))
    resources = Resources(api_client)
    current = resources.read("Deployment", NS, "web")
    version = current["metadata"]["resourceVersion"]

    merged = resources.patch("Deployment", NS, "web", {"metadata": {"labels": {"a": "1"}}}, "merge")
    strategic = {"spec": {"template": {"metadata": {"annotations": {"x": "y"}}}}}
    resources.patch("Deployment", NS, "web", strategic, "strategic")
    guarded = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": version},
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
    ]
    with pytest.raises(KubeError) as stale:
        resources.patch("Deployment", NS, "web", guarded, "json")

    assert merged["metadata"]["labels"] == {"a": "1"}
    after = resources.read("Deployment", NS, "web")
    assert after["spec"]["template"]["metadata"]["annotations"] == {"x": "y"}
    assert stale.value.status == 422 and "b" not in after["metadata"]["labels"]
    assert {r.content_type for r in fake.requests if r.verb == "patch"} == {
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
    }


def test_leases_are_created_and_replaced_with_their_resource_version(
    fake: FakeApiServer, api_client: kubernetes.client.ApiClient
) -> None:
    resources = Resources(api_client)
    created = resources.create("Lease", NS, lease("injector", NS, "a"))
    with pytest.raises(KubeError) as exists:
        resources.create("Lease", NS, lease("injector", NS, "b"))
    stale = {**created, "spec": {**created["spec"], "holderIdentity": "b"}}
    resources.replace("Lease", NS, "injector", stale)
    with pytest.raises(KubeError) as conflict:
        resources.replace("Lease", NS, "injector", stale)  # its resourceVersion is now old

    assert (exists.value.status, exists.value.reason) == (409, "AlreadyExists")
    assert (conflict.value.status, conflict.value.reason) == (409, "Conflict")
    assert resources.read("Lease", NS, "injector")["spec"]["holderIdentity"] == "b"


def test_failures_are_kube_errors(fake: FakeApiServer, api_client: kubernetes.client.ApiClient) -> None:
    resources = Resources(api_client, timeout=(1.0, 0.5))
    with pytest.raises(KubeError) as missing:
        resources.read("Deployment", NS, "nope")
    fake.forbid("pods")
    with pytest.raises(KubeError) as forbidden:
        resources.list_all("Pod", None, metadata_only=True)
    fake.hang_requests(3.0, verb="get", resource="leases.coordination.k8s.io")
    with pytest.raises(KubeError) as silent:
        resources.read("Lease", NS, "x")

    assert (missing.value.status, missing.value.reason) == (404, "NotFound")
    assert (forbidden.value.status, forbidden.value.reason) == (403, "Forbidden")
    assert (silent.value.status, silent.value.reason) == (None, "unreachable")
