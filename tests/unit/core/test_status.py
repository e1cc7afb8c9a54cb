"""The status annotation: version 2 round-trips, version 1 still parses, junk is refused, size bounded."""

from __future__ import annotations

import json

import pytest

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
