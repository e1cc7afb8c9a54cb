"""The fake watches as kube-apiserver does: where a watch starts, streaming lists, bookmarks, 410,
selector transitions, single-object and metadata-only watches."""

from __future__ import annotations

import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import configmap, deployment, event_v1
from tests.fakes.conftest import NS
from tests.fakes.watching import INITIAL_EVENTS_END
from tests.fakes.wire import META, META_LIST, Wire

pytestmark = pytest.mark.integration

DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"
ONE_SECOND = "timeoutSeconds=1"


def kinds(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


def test_a_watch_without_a_version_starts_with_the_current_state(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(deployment("web", NS))
    events = wire.watch_until_bookmark(f"{DEPLOYMENTS}?watch=true")
    assert kinds(events) == [("ADDED", "web")]
    assert (events[0]["object"]["kind"], events[0]["object"]["apiVersion"]) == ("Deployment", "apps/v1")


def test_a_watch_from_zero_starts_with_the_watch_cache_which_may_be_stale(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(configmap("a", NS))
    fake.create_object(configmap("b", NS))
    fake.stale_cache(1)
    with wire.stream(f"{CONFIGMAPS}?watch=1&resourceVersion=0&{ONE_SECOND}") as events:
        assert kinds([next(events)]) == [("ADDED", "a")]
        assert kinds([next(events)]) == [("ADDED", "b")]  # the cache catches up: b arrives as a change


def test_a_watch_from_a_version_sends_only_later_changes(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(configmap("a", NS))
    start = fake.resource_version
    fake.create_object(configmap("b", NS))
    fake.patch_object("configmaps", NS, "a", {"data": {"k": "v"}})
    fake.delete_object("configmaps", NS, "b")
    events = wire.watch_until_bookmark(f"{CONFIGMAPS}?watch=1&resourceVersion={start}")
    assert kinds(events) == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert events[2]["object"]["metadata"]["resourceVersion"] == str(fake.resource_version)


def test_send_initial_events_streams_the_state_then_an_annotated_bookmark(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(configmap("a", NS))
    fake.create_object(configmap("b", NS))
    listed_at = fake.resource_version
    query = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
    with wire.stream(f"{CONFIGMAPS}?{query}&{ONE_SECOND}") as events:
        first = [next(events) for _ in range(3)]
        fake.create_object(configmap("c", NS))
        after = next(events)
    assert kinds(first[:2]) == [("ADDED", "a"), ("ADDED", "b")]
    bookmark = first[2]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"] == {
        "resourceVersion": str(listed_at),
        "annotations": {INITIAL_EVENTS_END: "true"},
    }
    assert kinds([after]) == [("ADDED", "c")]


def test_without_bookmarks_the_initial_events_end_unannounced(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(configmap("a", NS))
    query = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
    assert kinds(wire.watch(f"{CONFIGMAPS}?{query}&{ONE_SECOND}")) == [("ADDED", "a")]


def test_send_initial_events_false_starts_after_the_version(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(configmap("a", NS))
    start = fake.resource_version
    fake.create_object(configmap("b", NS))
    query = f"watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion={start}"
    assert kinds(wire.watch_until_bookmark(f"{CONFIGMAPS}?{query}")) == [("ADDED", "b")]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (
            "resourceVersionMatch=NotOlderThan&resourceVersion=1",
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
        (
            "sendInitialEvents=true",
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
    ],
)
def test_invalid_watch_options_are_422(wire: Wire, query: str, error: str) -> None:
    response = wire.get(f"{CONFIGMAPS}?watch=1&{query}")
    assert response.status == 422
    assert response.body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {error}'


def test_a_compacted_version_is_an_expired_error_event(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(deployment("web", NS))
    start = fake.resource_version
    fake.patch_object("deployments.apps", NS, "web", {"spec": {"replicas": 3}})
    fake.compact()
    (event,) = wire.watch(f"{DEPLOYMENTS}?watch=1&resourceVersion={start}")
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"] == f"too old resource version: {start} ({fake.resource_version})"


def test_gone_as_http_status_answers_410_before_streaming() -> None:
    with FakeApiServer(gone_as_http_status=True) as fake:
        fake.create_namespace(NS)
        fake.create_object(deployment("web", NS))
        start = fake.resource_version
        fake.patch_object("deployments.apps", NS, "web", {"spec": {"replicas": 3}})
        fake.compact()
        response = Wire(fake).get(f"{DEPLOYMENTS}?watch=1&resourceVersion={start}")
        assert (response.status, response.body["reason"]) == (410, "Gone")


def test_bookmarks_carry_only_the_kind_and_the_current_version(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(deployment("web", NS))
    now = fake.resource_version
    with wire.stream(f"{DEPLOYMENTS}?watch=1&resourceVersion={now}&allowWatchBookmarks=true") as stream:
        events = [next(stream), next(stream)]
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["object"] == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"resourceVersion": str(now)},
    }


def test_objects_leaving_and_joining_a_selector_are_deleted_and_added(
    fake: FakeApiServer, wire: Wire
) -> None:
    fake.create_object(configmap("a", NS, app="x"))
    start = fake.resource_version
    fake.patch_object("configmaps", NS, "a", {"metadata": {"labels": {"app": "y"}}})
    fake.patch_object("configmaps", NS, "a", {"metadata": {"labels": {"app": "x"}}})
    events = wire.watch_until_bookmark(f"{CONFIGMAPS}?watch=1&resourceVersion={start}&labelSelector=app%3Dx")
    assert kinds(events) == [("DELETED", "a"), ("ADDED", "a")]
    assert events[0]["object"]["metadata"]["labels"] == {"app": "x"}  # the content it had when it matched


def test_a_watch_on_one_object_sees_only_that_object(fake: FakeApiServer, wire: Wire) -> None:
    start = fake.resource_version
    fake.create_object(configmap("lock", NS))
    fake.create_object(configmap("other", NS))
    events = wire.watch_until_bookmark(f"{CONFIGMAPS}/lock?watch=1&resourceVersion={start}")
    assert kinds(events) == [("ADDED", "lock")]
    by_selector = wire.watch_until_bookmark(
        f"{CONFIGMAPS}?watch=1&resourceVersion={start}&fieldSelector=metadata.name%3Dlock"
    )
    assert kinds(by_selector) == [("ADDED", "lock")]
    mismatch = wire.get(f"{CONFIGMAPS}/lock?watch=1&fieldSelector=metadata.name%3Dother")
    assert (mismatch.status, mismatch.body["message"]) == (
        400,
        "fieldSelector metadata.name doesn't match requested name",
    )


def test_a_metadata_only_watch_sends_partial_objects(fake: FakeApiServer, wire: Wire) -> None:
    start = fake.resource_version
    fake.create_object(deployment("web", NS))
    fake.delete_object("deployments.apps", NS, "web")
    query = f"watch=1&resourceVersion={start}&allowWatchBookmarks=true"
    with wire.stream(f"{DEPLOYMENTS}?{query}", accept=META) as stream:
        events = [next(stream) for _ in range(3)]
    assert [e["type"] for e in events] == ["ADDED", "DELETED", "BOOKMARK"]
    for event in events:
        assert set(event["object"]) == {"kind", "apiVersion", "metadata"}
        assert (event["object"]["kind"], event["object"]["apiVersion"]) == (
            "PartialObjectMetadata",
            "meta.k8s.io/v1",
        )
    assert events[-1]["type"] == "BOOKMARK"


def test_a_watch_asking_for_a_metadata_list_ends_at_its_first_object(fake: FakeApiServer, wire: Wire) -> None:
    fake.create_object(deployment("web", NS))
    assert wire.watch(f"{DEPLOYMENTS}?watch=1&{ONE_SECOND}", accept=META_LIST) == []


def test_events_written_through_either_api_are_watched_through_both(fake: FakeApiServer, wire: Wire) -> None:
    start = fake.resource_version
    target = fake.create_object(deployment("web", NS))
    created = fake.create_object({**event_v1(NS, target), "metadata": {"namespace": NS, "name": "web.1"}})
    core = wire.watch_until_bookmark(f"/api/v1/namespaces/{NS}/events?watch=1&resourceVersion={start}")
    v1 = wire.watch_until_bookmark(
        f"/apis/events.k8s.io/v1/namespaces/{NS}/events?watch=1&resourceVersion={start}"
    )
    (core_event,), (v1_event,) = (e["object"] for e in core), (e["object"] for e in v1)
    assert (core_event["apiVersion"], core_event["message"], core_event["involvedObject"]["name"]) == (
        "v1",
        "injected",
        "web",
    )
    assert core_event["reportingComponent"] == "sidecar-injector.io/injector"
    assert (v1_event["apiVersion"], v1_event["note"], v1_event["regarding"]["name"]) == (
        "events.k8s.io/v1",
        "injected",
        "web",
    )
    assert v1_event["metadata"]["uid"] == core_event["metadata"]["uid"] == created["metadata"]["uid"]


def test_a_streaming_list_from_a_future_version_times_out_as_an_error_event(
    fake: FakeApiServer, wire: Wire
) -> None:
    future = fake.resource_version + 5
    query = f"watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion={future}"
    (event,) = wire.watch(f"{CONFIGMAPS}?{query}")
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (504, "Timeout")
