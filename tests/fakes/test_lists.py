"""The fake lists as kube-apiserver does: shapes, resourceVersion semantics, chunking, selectors,
metadata-only lists, content negotiation."""

from __future__ import annotations

import threading
import time

import kubernetes.client
import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import configmap, deployment, event_v1
from tests.fakes.conftest import NS
from tests.fakes.listing import encode_continue
from tests.fakes.wire import Wire

pytestmark = pytest.mark.integration

CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"


def names(body: dict) -> list[str]:
    return [item["metadata"]["name"] for item in body["items"] or []]


def test_list_items_carry_no_kind_but_the_list_and_single_reads_do(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(deployment("web", NS))
    listed = wire.get(DEPLOYMENTS).body
    assert (listed["kind"], listed["apiVersion"]) == ("DeploymentList", "apps/v1")
    (item,) = listed["items"]
    assert "kind" not in item and "apiVersion" not in item
    single = wire.get(f"{DEPLOYMENTS}/web").body
    assert (single["kind"], single["apiVersion"]) == ("Deployment", "apps/v1")


def test_the_official_client_reads_every_resource_at_its_real_url(
    fake: FakeApiServer, client: kubernetes.client.ApiClient
) -> None:
    fake.create_object(deployment("web", NS))
    fake.create_object(configmap("settings", NS))
    assert [
        d.metadata.name
        for d in kubernetes.client.AppsV1Api(client).list_deployment_for_all_namespaces().items
    ] == ["web"]
    assert (
        kubernetes.client.CoreV1Api(client).read_namespaced_config_map("settings", NS).metadata.name
        == "settings"
    )
    assert kubernetes.client.CoreV1Api(client).list_namespace().items[0].metadata.name == NS
    assert kubernetes.client.BatchV1Api(client).list_namespaced_job(NS).items == []
    assert kubernetes.client.CoordinationV1Api(client).list_namespaced_lease(NS).items == []


# ---------------------------------------------------------------------------------------------------
# resourceVersion and resourceVersionMatch


def test_an_unset_resource_version_lists_the_latest_state(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(configmap("a", NS))
    listed = wire.get(CONFIGMAPS).body
    assert listed["metadata"]["resourceVersion"] == str(fake.resource_version)


def test_resource_version_zero_is_whatever_the_watch_cache_holds_and_ignores_limit(
    fake: FakeApiServer, wire: Wire
) -> None:
    for name in "abc":
        fake.create_object(configmap(name, NS))
    fake.stale_cache(1)  # the cache has not seen the last write yet
    stale = wire.get(f"{CONFIGMAPS}?resourceVersion=0&limit=1").body
    assert names(stale) == ["a", "b"]  # limit ignored, no continue, one write behind
    assert "continue" not in stale["metadata"]
    assert stale["metadata"]["resourceVersion"] == str(fake.resource_version - 1)


def test_not_older_than_a_version_the_store_has_not_reached_waits_then_times_out(
    fake: FakeApiServer, wire: Wire
) -> None:
    future = fake.resource_version + 5
    response = wire.get(f"{CONFIGMAPS}?resourceVersion={future}&resourceVersionMatch=NotOlderThan")
    assert response.status == 504
    status = response.body
    assert status["reason"] == "Timeout"
    assert (
        status["message"]
        == f"Timeout: Too large resource version: {future}, current: {fake.resource_version}"
    )
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert status["details"]["retryAfterSeconds"] == 1


def test_not_older_than_answers_once_the_store_reaches_the_version(fake: FakeApiServer, wire: Wire) -> None:
    fake.fresh_wait = 5.0
    wanted = fake.resource_version + 1
    writer = threading.Timer(0.1, lambda: fake.create_object(configmap("late", NS)))
    writer.start()
    try:
        listed = wire.get(f"{CONFIGMAPS}?resourceVersion={wanted}").body
    finally:
        writer.join()
    assert names(listed) == ["late"]


def test_exact_lists_the_state_at_that_version(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(configmap("a", NS, {"k": "old"}))
    fake.create_object(configmap("b", NS))
    then = fake.resource_version
    fake.patch_object("configmaps", NS, "a", {"data": {"k": "new"}})
    fake.delete_object("configmaps", NS, "b")
    fake.create_object(configmap("c", NS))
    listed = wire.get(f"{CONFIGMAPS}?resourceVersion={then}&resourceVersionMatch=Exact").body
    assert names(listed) == ["a", "b"]
    assert listed["items"][0]["data"] == {"k": "old"}
    assert listed["metadata"]["resourceVersion"] == str(then)
    # The legacy form of Exact: a resourceVersion with a limit.
    assert names(wire.get(f"{CONFIGMAPS}?resourceVersion={then}&limit=10").body) == ["a", "b"]


def test_exact_for_a_compacted_version_is_410_expired(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(configmap("a", NS))
    then = fake.resource_version
    fake.create_object(configmap("b", NS))
    fake.compact()
    response = wire.get(f"{CONFIGMAPS}?resourceVersion={then}&resourceVersionMatch=Exact")
    assert response.status == 410
    assert (response.body["reason"], response.body["message"]) == (
        "Expired",
        "The resourceVersion for the provided list is too old.",
    )


def test_exact_for_a_future_version_is_the_500_etcd_answers(fake: FakeApiServer, wire: Wire) -> None:
    response = wire.get(
        f"{CONFIGMAPS}?resourceVersion={fake.resource_version + 10}&resourceVersionMatch=Exact"
    )
    assert response.status == 500
    assert "reason" not in response.body
    assert response.body["message"] == "etcdserver: mvcc: required revision is a future revision"


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            "resourceVersionMatch=NotOlderThan",
            [
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
            ],
        ),
        (
            "resourceVersion=5&resourceVersionMatch=Newest",
            [
                'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""'
            ],
        ),
        (
            "resourceVersion=0&resourceVersionMatch=Exact",
            [
                'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
            ],
        ),
        ("sendInitialEvents=true", ["sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"]),
        (
            "resourceVersionMatch=Exact&continue=abc",
            [
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided",
            ],
        ),
    ],
)
def test_invalid_list_options_are_422_invalid_list_options(wire: Wire, query: str, errors: list[str]) -> None:
    response = wire.get(f"{CONFIGMAPS}?{query}")
    assert response.status == 422
    status = response.body
    aggregate = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    assert status["message"] == f'ListOptions.meta.k8s.io "" is invalid: {aggregate}'
    assert (status["reason"], status["details"]["group"], status["details"]["kind"]) == (
        "Invalid",
        "meta.k8s.io",
        "ListOptions",
    )
    assert [c["field"] for c in status["details"]["causes"]] == [e.split(":")[0] for e in errors]


def test_an_unparsable_resource_version_is_the_500_the_storage_layer_returns(wire: Wire) -> None:
    response = wire.get(f"{CONFIGMAPS}?resourceVersion=abc")
    assert response.status == 500
    assert "reason" not in response.body
    assert response.body["message"].startswith('resourceVersion: Invalid value: "abc"')


def test_a_waiting_read_does_not_block_the_writes_it_waits_for(fake: FakeApiServer, wire: Wire) -> None:
    fake.fresh_wait = 5.0
    answers: list[int] = []
    wanted = fake.resource_version + 2
    waiting = threading.Thread(
        target=lambda: answers.append(wire.get(f"{CONFIGMAPS}?resourceVersion={wanted}").status)
    )
    waiting.start()
    time.sleep(0.05)  # let the read start waiting first (it passes either way; this just exercises the wait)
    fake.create_object(configmap("a", NS))
    fake.create_object(configmap("b", NS))
    waiting.join(timeout=10)
    assert answers == [200]


# ---------------------------------------------------------------------------------------------------
# limit and continue


def test_chunks_are_one_consistent_snapshot_with_remaining_counts(fake: FakeApiServer, wire: Wire) -> None:
    for name in "abcde":
        fake.create_object(configmap(name, NS, {"v": "1"}))
    first = wire.get(f"{CONFIGMAPS}?limit=2").body
    assert names(first) == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3
    # Changes after the first page stay invisible to the following pages.
    fake.patch_object("configmaps", NS, "c", {"data": {"v": "2"}})
    fake.delete_object("configmaps", NS, "d")
    fake.create_object(configmap("f", NS))
    second = wire.get(f"{CONFIGMAPS}?limit=2&continue={first['metadata']['continue']}").body
    assert names(second) == ["c", "d"]
    assert second["items"][0]["data"] == {"v": "1"}
    assert second["metadata"]["remainingItemCount"] == 1
    third = wire.get(f"{CONFIGMAPS}?limit=2&continue={second['metadata']['continue']}").body
    assert names(third) == ["e"]
    assert "continue" not in third["metadata"] and "remainingItemCount" not in third["metadata"]
    assert (
        first["metadata"]["resourceVersion"]
        == second["metadata"]["resourceVersion"]
        == third["metadata"]["resourceVersion"]
    )


def test_a_continue_token_expires_with_compaction_and_offers_an_inconsistent_one(
    fake: FakeApiServer, wire: Wire
) -> None:
    for name in "abcd":
        fake.create_object(configmap(name, NS))
    first = wire.get(f"{CONFIGMAPS}?limit=2").body
    fake.delete_object("configmaps", NS, "c")
    fake.compact()
    response = wire.get(f"{CONFIGMAPS}?limit=2&continue={first['metadata']['continue']}")
    assert response.status == 410
    status = response.body
    assert status["reason"] == "Expired"
    assert status["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result."
    )
    rest = wire.get(f"{CONFIGMAPS}?limit=2&continue={status['metadata']['continue']}").body
    assert names(rest) == ["d"]  # continues after "b", from the latest state


def test_continue_refuses_a_resource_version_and_a_forged_token(wire: Wire) -> None:
    token = encode_continue("a\x00", 5)
    response = wire.get(f"{CONFIGMAPS}?limit=1&continue={token}&resourceVersion=5")
    assert (response.status, response.body["message"]) == (
        400,
        "specifying resource version is not allowed when using continue",
    )
    response = wire.get(f"{CONFIGMAPS}?limit=1&continue=not-a-token")
    assert response.status == 400
    assert response.body["message"].startswith("invalid continue token:")


def test_with_a_selector_pages_have_no_remaining_count_and_the_last_may_be_empty(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(configmap("a", NS, app="x"))
    fake.create_object(configmap("b", NS, app="x"))
    fake.create_object(configmap("c", NS, app="y"))
    first = wire.get(f"{CONFIGMAPS}?limit=2&labelSelector=app%3Dx").body
    assert names(first) == ["a", "b"]
    assert "remainingItemCount" not in first["metadata"]
    last = wire.get(
        f"{CONFIGMAPS}?limit=2&labelSelector=app%3Dx&continue={first['metadata']['continue']}"
    ).body
    assert names(last) == [] and "continue" not in last["metadata"]


def test_all_namespaces_lists_follow_etcd_key_order(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_namespace("a")
    fake.create_namespace("a-b")
    fake.create_object(configmap("x", "a"))
    fake.create_object(configmap("x", "a-b"))
    listed = wire.get("/api/v1/configmaps").body
    # Keys are "<namespace>/<name>" compared bytewise, and "-" sorts before "/".
    assert [item["metadata"]["namespace"] for item in listed["items"]] == ["a-b", "a"]


# ---------------------------------------------------------------------------------------------------
# Field selectors


def test_field_selectors_on_name_and_namespace(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_namespace("other")
    for namespace in (NS, "other"):
        fake.create_object(configmap("lock", namespace))
        fake.create_object(configmap("unrelated", namespace))
    by_name = wire.get(f"{CONFIGMAPS}?fieldSelector=metadata.name%3Dlock").body
    assert names(by_name) == ["lock"]
    elsewhere = wire.get(
        "/api/v1/configmaps?fieldSelector=metadata.namespace%21%3Dshop,metadata.name%3D%3Dlock"
    ).body
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in elsewhere["items"]] == [
        ("other", "lock")
    ]


def test_an_unsupported_field_label_is_400(wire: Wire) -> None:
    response = wire.get(f"{CONFIGMAPS}?fieldSelector=data.key%3Dx")
    assert (response.status, response.body["reason"], response.body["message"]) == (
        400,
        "BadRequest",
        "field label not supported: data.key",
    )


def test_events_select_on_their_own_field_labels_in_each_version(fake: FakeApiServer, wire: Wire) -> None:
    web = fake.create_object(deployment("web", NS))
    db = fake.create_object(deployment("db", NS))
    for target in (web, db):
        fake.create_object({**event_v1(NS, target), "metadata": {"namespace": NS, "generateName": "e-"}})
    core = wire.get(f"/api/v1/namespaces/{NS}/events?fieldSelector=involvedObject.name%3Dweb").body
    assert [e["involvedObject"]["name"] for e in core["items"]] == ["web"]
    v1 = wire.get(f"/apis/events.k8s.io/v1/namespaces/{NS}/events?fieldSelector=regarding.name%3Ddb").body
    assert [e["regarding"]["name"] for e in v1["items"]] == ["db"]
