"""The pure list/watch state machine: every transition without a socket."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.kube.reflector import (
    Backoff,
    ItemType,
    LineBuffer,
    NextAction,
    ProtocolViolation,
    Reflector,
)


def configmap(name: str, rv: str, namespace: str = "ns", **labels: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "resourceVersion": rv}
    if labels:
        metadata["labels"] = labels
    return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": metadata, "data": {}}


def listing(rv: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "ConfigMapList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv},
        "items": list(items),
    }


def status(code: int, reason: str = "Expired") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason}


def test_a_list_replaces_the_map_and_sets_the_resource_version_to_watch_from() -> None:
    reflector = Reflector()
    reflector.on_list(listing("10", configmap("a", "5"), configmap("b", "7")))
    objects = reflector.on_list(listing("12", configmap("b", "11")))
    assert list(objects) == [("ns", "b")]
    assert reflector.resource_version == "12"


def test_a_list_without_a_resource_version_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation):
        Reflector().on_list({"kind": "ConfigMapList", "items": []})


def test_added_modified_and_deleted_update_the_map_and_the_resource_version() -> None:
    reflector = Reflector()
    reflector.on_list(listing("1"))
    step = reflector.on_event({"type": "ADDED", "object": configmap("a", "2")})
    assert [(c.key, c.obj is not None) for c in step.changes] == [(("ns", "a"), True)]
    assert step.action is NextAction.NONE
    reflector.on_event({"type": "MODIFIED", "object": configmap("a", "3")})
    assert reflector.objects[("ns", "a")]["metadata"]["resourceVersion"] == "3"
    step = reflector.on_event({"type": "DELETED", "object": configmap("a", "4")})
    assert [(c.key, c.obj) for c in step.changes] == [(("ns", "a"), None)]
    assert reflector.objects == {}
    assert reflector.resource_version == "4"


def test_deleting_an_unknown_object_changes_nothing_but_the_resource_version() -> None:
    reflector = Reflector()
    reflector.on_list(listing("1"))
    step = reflector.on_event({"type": "DELETED", "object": configmap("ghost", "9")})
    assert step.changes == ()
    assert reflector.resource_version == "9"


def test_a_bookmark_moves_the_resource_version_only() -> None:
    reflector = Reflector()
    reflector.on_list(listing("1", configmap("a", "1")))
    bookmark = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "50"}}
    step = reflector.on_event({"type": "BOOKMARK", "object": bookmark})
    assert step.changes == () and step.action is NextAction.NONE
    assert reflector.resource_version == "50"
    assert list(reflector.objects) == [("ns", "a")]


def test_an_error_event_with_410_forgets_the_resource_version_and_asks_for_one_relist() -> None:
    reflector = Reflector()
    reflector.on_list(listing("1"))
    step = reflector.on_event({"type": "ERROR", "object": status(410)})
    assert step.action is NextAction.RELIST
    assert not step.backoff
    assert reflector.resource_version is None


@pytest.mark.parametrize("code", [500, 429, 403])
def test_other_error_events_resume_from_the_last_resource_version_after_a_backoff(code: int) -> None:
    reflector = Reflector()
    reflector.on_list(listing("7"))
    step = reflector.on_event({"type": "ERROR", "object": status(code, "InternalError")})
    assert (step.action, step.backoff) == (NextAction.RESUME, True)
    assert reflector.resource_version == "7"


def test_http_410_on_the_watch_request_asks_for_a_relist() -> None:
    reflector = Reflector()
    reflector.on_list(listing("7"))
    assert reflector.on_watch_rejected(410).action is NextAction.RELIST
    assert reflector.resource_version is None


def test_another_http_error_on_the_watch_request_resumes_with_backoff() -> None:
    reflector = Reflector()
    reflector.on_list(listing("7"))
    step = reflector.on_watch_rejected(503)
    assert (step.action, step.backoff, reflector.resource_version) == (NextAction.RESUME, True, "7")


def test_the_end_of_a_stream_resumes_from_the_last_seen_version_without_a_relist() -> None:
    reflector = Reflector()
    reflector.on_list(listing("7"))
    reflector.on_event({"type": "ADDED", "object": configmap("a", "8")})
    step = reflector.on_stream_end()
    assert step.action is NextAction.RESUME
    assert reflector.resource_version == "8"


def test_the_end_of_a_stream_before_any_list_asks_for_a_list() -> None:
    assert Reflector().on_stream_end().action is NextAction.RELIST


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "ADDED"}',
        b'{"type": "WAT", "object": {}}',
        b'{"type": "BOOKMARK", "object": {}}',
    ],
)
def test_a_corrupt_line_asks_for_a_relist_with_backoff(line: bytes) -> None:
    reflector = Reflector()
    reflector.on_list(listing("7"))
    step = reflector.on_line(line)
    assert (step.action, step.backoff) == (NextAction.RELIST, True)


def test_an_object_that_stops_passing_the_filter_is_reported_gone() -> None:
    reflector = Reflector(accept=lambda o: "t" in (o["metadata"].get("labels") or {}))
    reflector.on_list(listing("1", configmap("a", "1", t="x"), configmap("b", "1")))
    assert list(reflector.objects) == [("ns", "a")]
    step = reflector.on_event({"type": "MODIFIED", "object": configmap("a", "2")})
    assert [(c.key, c.obj) for c in step.changes] == [(("ns", "a"), None)]
    step = reflector.on_event({"type": "MODIFIED", "object": configmap("b", "3")})
    assert step.changes == ()
    step = reflector.on_event({"type": "MODIFIED", "object": configmap("b", "4", t="y")})
    assert [c.key for c in step.changes] == [("ns", "b")]


def test_the_transform_keeps_a_projection_of_what_is_accepted_and_the_versions_move_on() -> None:
    def project(obj: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"name": obj["metadata"]["name"], "labels": obj["metadata"].get("labels", {})}}

    reflector = Reflector(accept=lambda o: "t" in (o["metadata"].get("labels") or {}), transform=project)
    reflector.on_list(listing("1", configmap("a", "1", t="x"), configmap("b", "1")))
    assert dict(reflector.objects) == {("ns", "a"): {"metadata": {"name": "a", "labels": {"t": "x"}}}}
    step = reflector.on_event({"type": "ADDED", "object": configmap("c", "7", t="y")})
    assert [c.obj for c in step.changes] == [{"metadata": {"name": "c", "labels": {"t": "y"}}}]
    assert reflector.objects[("ns", "c")] == {"metadata": {"name": "c", "labels": {"t": "y"}}}
    assert reflector.resource_version == "7"  # read from the event, not from the projection


def test_the_line_buffer_keeps_a_partial_line_until_its_newline_arrives() -> None:
    lines = LineBuffer()
    assert lines.feed(b'{"a": 1}\n{"b"') == [b'{"a": 1}']
    assert lines.pending == 4
    assert lines.feed(b": 2}\n\n") == [b'{"b": 2}']
    assert lines.pending == 0


@given(st.lists(st.binary(max_size=20).filter(lambda b: b"\n" not in b), max_size=10), st.data())
def test_the_line_buffer_yields_the_same_lines_however_the_stream_is_split(
    lines: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    buffer, out, start = LineBuffer(), [], 0
    for cut in [*cuts, len(stream)]:
        out += buffer.feed(stream[start:cut])
        start = cut
    assert out == [line for line in lines if line.strip()]


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial=0.2, cap=1.0, jitter=0.0)
    assert [round(backoff.next_delay(), 3) for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.2)


def test_backoff_jitter_stays_within_its_band_and_never_reaches_zero() -> None:
    low = Backoff(initial=1.0, cap=1.0, jitter=0.5, rng=lambda: 0.999999)
    high = Backoff(initial=1.0, cap=1.0, jitter=0.5, rng=lambda: 0.0)
    assert 0.5 <= low.next_delay() < high.next_delay() == 1.0


def test_backoff_never_overflows_after_many_attempts() -> None:
    backoff = Backoff(initial=0.2, cap=10.0, jitter=0.0)
    assert max(backoff.next_delay() for _ in range(10_000)) == 10.0


# A model-based property: any sequence of server-side changes, delivered as watch events after a list,
# leaves the reflector's map equal to the server's filtered state, and its version at the last event.

names = st.sampled_from(["a", "b", "c", "d-initializer"])
operations = st.lists(st.tuples(st.sampled_from(["put", "delete"]), names, st.booleans()), max_size=40)


def _accept(obj: Mapping[str, Any]) -> bool:
    return "t" in (obj["metadata"].get("labels") or {}) or obj["metadata"]["name"].endswith("-initializer")


@given(initial=operations, changes=operations)
def test_watch_events_keep_the_map_equal_to_the_servers_filtered_state(
    initial: list[tuple[str, str, bool]], changes: list[tuple[str, str, bool]]
) -> None:
    server: dict[str, dict[str, Any]] = {}
    rv = 1

    def apply(op: str, name: str, labelled: bool) -> tuple[str, dict[str, Any]] | None:
        nonlocal rv
        rv += 1
        if op == "delete":
            if name not in server:
                return None
            gone = server.pop(name)
            gone["metadata"]["resourceVersion"] = str(rv)
            return "DELETED", gone
        kind = "MODIFIED" if name in server else "ADDED"
        server[name] = configmap(name, str(rv), **({"t": "1"} if labelled else {}))
        return kind, json.loads(json.dumps(server[name]))

    for op in initial:
        apply(*op)
    reflector = Reflector(accept=_accept)
    reflector.on_list(listing(str(rv), *server.values()))
    for op in changes:
        event = apply(*op)
        if event is not None:
            step = reflector.on_event({"type": event[0], "object": event[1]})
            assert step.action is NextAction.NONE
            assert reflector.resource_version == str(rv)
    expected = {("ns", name) for name, obj in server.items() if _accept(obj)}
    assert set(reflector.objects) == expected


# ---------------------------------------------------------------------------------------------------
# Typed collections: list items arrive without kind (kube-apiserver's documented behaviour)

CONFIGMAPS = ItemType("ConfigMap", "v1")


def untyped(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def test_list_items_without_a_kind_are_handed_on_as_the_lists_item_kind() -> None:
    reflector = Reflector(item_type=CONFIGMAPS)
    objects = reflector.on_list(listing("10", untyped(configmap("a", "5"))))
    assert objects[("ns", "a")]["kind"] == "ConfigMap"
    assert objects[("ns", "a")]["apiVersion"] == "v1"


def test_the_filter_sees_list_items_with_their_kind() -> None:
    seen: list[object] = []
    reflector = Reflector(accept=lambda o: bool(seen.append(o.get("kind"))) or True, item_type=CONFIGMAPS)
    reflector.on_list(listing("10", untyped(configmap("a", "5"))))
    assert seen == ["ConfigMap"]


def test_a_list_item_whose_kind_contradicts_the_list_is_refused_and_reported() -> None:
    reflector = Reflector(item_type=CONFIGMAPS)
    secret = {**configmap("s", "4"), "kind": "Secret"}
    objects = reflector.on_list(listing("10", secret, untyped(configmap("a", "5"))))
    assert list(objects) == [("ns", "a")]
    assert reflector.refused == ("Secret 's' (not of this collection's kind)",)


def test_a_list_of_another_kind_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation):
        Reflector(item_type=CONFIGMAPS).on_list({**listing("10"), "kind": "SecretList"})


def test_watch_objects_without_a_kind_are_stamped_and_a_contradicting_kind_is_refused() -> None:
    reflector = Reflector(item_type=CONFIGMAPS)
    reflector.on_list(listing("1"))
    step = reflector.on_event({"type": "ADDED", "object": untyped(configmap("a", "2"))})
    assert [c.obj["kind"] for c in step.changes if c.obj] == ["ConfigMap"]
    step = reflector.on_event({"type": "ADDED", "object": {**configmap("b", "3"), "kind": "Secret"}})
    assert step.refused and not step.changes and step.action is NextAction.NONE
    assert list(reflector.objects) == [("ns", "a")]


def test_pages_replace_the_map_only_when_the_last_one_is_in() -> None:
    reflector = Reflector()
    reflector.on_list(listing("5", configmap("old", "1")))
    reflector.begin_list()
    first = {**listing("10", configmap("a", "5")), "metadata": {"resourceVersion": "10", "continue": "t1"}}
    assert reflector.on_list_page(first) == "t1"
    assert set(reflector.objects) == {("ns", "old")} and reflector.resource_version == "5"
    assert reflector.on_list_page(listing("10", configmap("b", "7"))) is None
    assert set(reflector.objects) == {("ns", "a"), ("ns", "b")} and reflector.resource_version == "10"
    with pytest.raises(ProtocolViolation):
        reflector.on_list(first)  # a continue token where a whole list was expected


def test_a_transform_keeps_only_its_projection_from_lists_and_events() -> None:
    reflector = Reflector(transform=lambda obj: {"rv": obj["metadata"]["resourceVersion"]})
    reflector.on_list(listing("10", configmap("a", "5")))
    step = reflector.on_event({"type": "MODIFIED", "object": configmap("a", "11")})
    assert dict(reflector.objects) == {("ns", "a"): {"rv": "11"}}
    assert step.changes[0].obj == {"rv": "11"}
    assert reflector.resource_version == "11"


def test_a_metadata_only_list_of_nothing_says_items_null() -> None:
    reflector = Reflector(item_type=ItemType("PartialObjectMetadata", "meta.k8s.io/v1"))
    body = {"kind": "PartialObjectMetadataList", "metadata": {"resourceVersion": "3"}, "items": None}
    assert reflector.on_list(body) == {}
    assert reflector.resource_version == "3"
