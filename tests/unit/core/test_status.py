"""The status annotation: version 2 round-trips, version 1 still parses, junk is refused, size bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.templates import template_set
from webhook.core import AdmissionFacts, InjectionPolicy, mutate
from webhook.core.recording import INCOMPLETE_STATUS
from webhook.core.status import (
    MAX_STATUS_CHARS,
    Added,
    InjectionStatus,
    StatusEntry,
    StatusProblem,
    parse_status,
    render_status,
)

FULL = InjectionStatus(
    entries=(
        StatusEntry(
            "log-shipper",
            "390bfc8dc47ff85a",
            Added(
                containers=("log-shipper",),
                init_containers=("setup",),
                volumes=("logs",),
                image_pull_secrets=("pull",),
                annotations=("example.com/a",),
                labels=("shipper",),
                env=(("web", ("LOG_DIR",)), ("api", ("LOG_DIR", "LEVEL"))),
                volume_mounts=(("web", ("/var/log",)),),
            ),
        ),
        StatusEntry("old", "0123456789abcdef"),
    ),
    created=("spec/volumes", "metadata/annotations"),
    was_null=("spec/volumes",),
    copied=(("sidecar-injector.io/inject", None),),
)


def test_version_2_round_trips() -> None:
    rendered = render_status(FULL)
    assert rendered.complete
    assert parse_status(rendered.text) == FULL
    assert json.loads(rendered.text)["v"] == 2


def test_version_1_parses_without_knowing_what_was_added() -> None:
    status = parse_status('{"injected":[{"name":"a","revision":"r1"},{"name":"b"}]}')
    assert isinstance(status, InjectionStatus)
    assert status.version == 1
    assert status.entries == (StatusEntry("a", "r1"), StatusEntry("b", ""))
    assert status.revisions == {"a": "r1", "b": ""}


def test_version_2_is_readable_by_a_version_1_reader() -> None:
    """An older injector still running during an upgrade reads name and revision as before."""
    decoded = json.loads(render_status(FULL).text)
    assert {e["name"]: e["revision"] for e in decoded["injected"]} == FULL.revisions


@pytest.mark.parametrize(
    "value",
    [
        "{not json",
        '{"injected": 3}',
        '{"injected": [{"revision": "r"}]}',
        '{"injected": [{"name": 1}]}',
        '{"v": "2", "injected": []}',
        '{"v": 2, "injected": [{"name": "a", "added": {"volumes": "logs"}}]}',
        '{"v": 2, "injected": [{"name": "a", "added": {"env": ["X"]}}]}',
        '{"v": 2, "injected": [], "created": [1]}',
        '{"v": 2, "injected": [], "copied": {"k": 1}}',
        '{"injected": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
)
def test_a_mangled_status_is_a_problem_not_a_guess(value: str) -> None:
    assert isinstance(parse_status(value), StatusProblem)


def test_a_status_past_its_bound_keeps_names_and_revisions_only() -> None:
    many = tuple((f"app-{i}", tuple(f"VARIABLE_NUMBER_{j}" for j in range(40))) for i in range(60))
    status = InjectionStatus((StatusEntry("big", "r", Added(env=many)),))
    rendered = render_status(status)
    assert not rendered.complete
    assert len(rendered.text) <= MAX_STATUS_CHARS
    assert parse_status(rendered.text) == InjectionStatus((StatusEntry("big", "r"),))


def test_an_injection_too_large_to_record_says_so() -> None:
    """Hostile: a template of many env vars into a pod of many app containers."""
    env = "".join(f"    - {{name: VARIABLE_NUMBER_{i}, value: x}}\n" for i in range(60))
    templates = template_set(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, labels: {sidecar-injector.io/template: 'true'}}\n"
        f"data:\n  template: |\n    env:\n{env}"
    )
    containers = [{"name": f"app-{i}", "image": "app:1"} for i in range(60)]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"sidecar-injector.io/inject": "big"}},
        "spec": {"containers": containers},
    }
    result = mutate(pod, AdmissionFacts("u", "CREATE", "Pod", "ns"), templates, InjectionPolicy())
    assert INCOMPLETE_STATUS in result.warnings
    assert result.patched is not None
    value = result.patched["metadata"]["annotations"]["sidecar-injector.io/status"]
    assert len(value) <= MAX_STATUS_CHARS


def as_json_dumps_writes_it(status: InjectionStatus, with_added: bool = True) -> str:
    """The documented shape, through json.dumps: what render_status wrote before it wrote by hand."""

    def added(entry: Added) -> dict[str, Any]:
        fields = ["containers", "initContainers", "volumes", "imagePullSecrets", "annotations", "labels"]
        encoded: dict[str, Any] = {f: list(entry.names(f)) for f in fields if entry.names(f)}
        for field in ("env", "volumeMounts"):
            if entry.per_container(field):
                encoded[field] = {c: list(names) for c, names in entry.per_container(field)}
        return encoded

    entries = []
    for entry in status.entries:
        encoded: dict[str, Any] = {"name": entry.name, "revision": entry.revision}
        if with_added and entry.added is not None:
            encoded["added"] = added(entry.added)
        entries.append(encoded)
    body: dict[str, Any] = {"v": 2, "injected": entries}
    if status.created:
        body["created"] = list(status.created)
    if status.was_null:
        body["wasNull"] = list(status.was_null)
    if status.copied:
        body["copied"] = dict(status.copied)
    return json.dumps(body, separators=(",", ":"))


TEXT = st.text(max_size=4) | st.sampled_from(["web", 'a"b\\', "\u00e9\u2028", "\U0001f600", "\x00"])
NAMES = st.lists(TEXT, max_size=3).map(tuple)
PER_CONTAINER = st.lists(st.tuples(st.sampled_from(["web", "api", "é"]), NAMES), max_size=3).map(tuple)
ADDED = st.builds(
    Added,
    containers=NAMES,
    init_containers=NAMES,
    volumes=NAMES,
    image_pull_secrets=NAMES,
    annotations=NAMES,
    labels=NAMES,
    env=PER_CONTAINER,
    volume_mounts=PER_CONTAINER,
)
STATUSES = st.builds(
    InjectionStatus,
    entries=st.lists(st.builds(StatusEntry, TEXT, TEXT, st.none() | ADDED), max_size=3).map(tuple),
    created=NAMES,
    was_null=NAMES,
    copied=st.lists(st.tuples(st.sampled_from(["a", "b/c"]), st.none() | TEXT), max_size=3).map(tuple),
)


@given(STATUSES)
def test_the_status_is_written_as_json_dumps_writes_it(status: InjectionStatus) -> None:
    assert render_status(status).text == as_json_dumps_writes_it(status)
    assert render_status(FULL).text == as_json_dumps_writes_it(FULL)


def test_the_bounded_status_is_written_as_json_dumps_writes_it() -> None:
    many = tuple((f"container-{i}", ("VARIABLE",)) for i in range(5000))
    status = InjectionStatus((StatusEntry("big", "r", Added(env=many)),), copied=(("k", "v"),))
    rendered = render_status(status)
    assert not rendered.complete
    assert rendered.text == as_json_dumps_writes_it(status, with_added=False)
