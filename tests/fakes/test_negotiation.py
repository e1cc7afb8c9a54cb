"""Metadata-only (PartialObjectMetadata) reads and Accept negotiation, as kube-apiserver answers them."""

from __future__ import annotations

import pytest
import yaml

from tests.fakes import FakeApiServer
from tests.fakes.builders import configmap, deployment
from tests.fakes.conftest import NS
from tests.fakes.wire import META, META_LIST, Wire

pytestmark = pytest.mark.integration

CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"


def test_a_metadata_only_list_holds_partial_objects_with_their_own_kind(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(deployment("web", NS))
    body = wire.get(DEPLOYMENTS, accept=META_LIST).body
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"]["resourceVersion"] == str(fake.resource_version)
    (item,) = body["items"]
    assert set(item) == {"kind", "apiVersion", "metadata"}
    assert (item["kind"], item["apiVersion"], item["metadata"]["name"]) == (
        "PartialObjectMetadata",
        "meta.k8s.io/v1",
        "web",
    )


def test_an_empty_metadata_only_list_has_null_items(wire: Wire) -> None:
    body = wire.get(DEPLOYMENTS, accept=META_LIST).body
    assert body["items"] is None  # Go appends to a nil slice: kubernetes-client/python#2142


def test_metadata_only_chunks_keep_continue_and_remaining_count(fake: FakeApiServer, wire: Wire) -> None:
    for name in "abc":
        fake.create_object(configmap(name, NS))
    body = wire.get(f"{CONFIGMAPS}?limit=1", accept=META_LIST).body
    assert body["metadata"]["remainingItemCount"] == 2 and body["metadata"]["continue"]


def test_partial_object_metadata_for_a_list_and_a_list_kind_for_one_object_are_406(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(deployment("web", NS))
    response = wire.get(DEPLOYMENTS, accept=META)
    assert (response.status, response.body["reason"]) == (406, "NotAcceptable")
    assert response.body["message"] == (
        "you requested PartialObjectMetadata, but the requested object is a list (*apps.DeploymentList)"
    )
    response = wire.get(f"{DEPLOYMENTS}/web", accept=META_LIST)
    assert response.status == 406
    assert response.body["message"] == (
        "you requested PartialObjectMetadataList, but the requested object is not a list (*apps.Deployment)"
    )
    single = wire.get(f"{DEPLOYMENTS}/web", accept=META).body
    assert set(single) == {"kind", "apiVersion", "metadata"} and single["kind"] == "PartialObjectMetadata"


@pytest.mark.parametrize(
    "accept",
    [
        "text/plain",
        "application/json;as=Table;g=meta.k8s.io;v=v1",
        "application/json;as=Foo;g=meta.k8s.io;v=v1",
    ],
)
def test_no_acceptable_media_type_is_406_naming_the_accepted_ones(wire: Wire, accept: str) -> None:
    response = wire.get(CONFIGMAPS, accept=accept)
    assert response.status == 406
    assert response.body["message"] == (
        "only the following media types are accepted: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf"
    )


def test_negotiation_falls_back_and_serves_yaml(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(configmap("a", NS))
    fallback = wire.get(CONFIGMAPS, accept="application/vnd.kubernetes.protobuf, application/json;q=0.9")
    assert fallback.status == 200 and fallback.body["kind"] == "ConfigMapList"
    as_yaml = wire.get(CONFIGMAPS, accept="application/yaml")
    assert as_yaml.headers["content-type"] == "application/yaml"
    assert yaml.safe_load(as_yaml.raw)["items"][0]["metadata"]["name"] == "a"
