"""check_pod_spec: the one-pass soundness test accepts only pod specs the ordered checks accept, and
every pod spec the golden cases hold is sound (so the ordered checks run only for broken ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.core import InvalidObject
from webhook.core.bounds import MAX_CONTAINERS, MAX_VOLUMES
from webhook.core.pod_spec import check_pod_spec, is_sound, refuse_unsound
from webhook.core.workloads import locate_pod_template

GOLDEN = Path(__file__).parents[2] / "golden"

# Mostly well-formed, so that each single flaw is often the only one.
NAMES = st.sampled_from(["a", "b", "c"]) | st.integers(0, 1) | st.none()
ODD = st.none() | st.integers(0, 1) | st.just("x") | st.just({})
ENTRIES = st.lists(st.just({}) | ODD, max_size=2) | ODD
ITEMS = st.fixed_dictionaries({"name": NAMES}, optional={"env": ENTRIES, "volumeMounts": ENTRIES})
LISTS = st.lists(ITEMS | ODD, max_size=3) | ODD
SPECS = st.fixed_dictionaries(
    {"containers": st.lists(ITEMS, max_size=3) | ODD},
    optional={"initContainers": LISTS, "volumes": LISTS, "imagePullSecrets": LISTS, "other": ODD},
)
POD_TEMPLATES = st.fixed_dictionaries({}, optional={"spec": SPECS | ODD, "metadata": ODD})


def refusal(pod_template: dict[str, Any]) -> str | None:
    try:
        refuse_unsound(pod_template, ("spec", "template"))
    except InvalidObject as exc:
        return exc.message
    return None


@settings(max_examples=1000)
@given(POD_TEMPLATES)
def test_a_sound_pod_spec_is_one_the_ordered_checks_accept(pod_template: dict[str, Any]) -> None:
    if is_sound(pod_template):
        assert refusal(pod_template) is None
    try:
        check_pod_spec(pod_template, ("spec", "template"))
    except InvalidObject as exc:
        assert exc.message == refusal(pod_template)
    else:
        assert refusal(pod_template) is None


def test_every_well_formed_golden_pod_spec_is_sound() -> None:
    checked = 0
    for path in sorted(GOLDEN.glob("*/object.yaml")):
        obj = yaml.safe_load(path.read_text())
        root = locate_pod_template(obj.get("kind", "") if isinstance(obj, dict) else "")
        pod_template: Any = obj
        for token in root or ():
            pod_template = pod_template.get(token) if isinstance(pod_template, dict) else None
        if root is None or not isinstance(pod_template, dict):
            continue
        assert is_sound(pod_template) == (refusal(pod_template) is None), path.parent.name
        checked += 1
    assert checked > 50


def test_common_pod_specs_are_sound() -> None:
    container = {"name": "app", "env": [{"name": "A"}], "volumeMounts": []}
    assert is_sound({"spec": {"containers": [container], "volumes": [{"name": "v"}]}})
    assert is_sound({"metadata": {}, "spec": {"containers": [container], "initContainers": [{"name": "i"}]}})


@pytest.mark.parametrize(
    "spec",
    [
        {"containers": []},
        {"containers": [{"name": "a"}], "initContainers": [{"name": "a"}]},
        {"containers": [{"name": "a"}], "volumes": [{"name": "v"}, {"name": "v"}]},
        {"containers": [{"name": "a", "env": {}}]},
        {"containers": [{"name": "a"}], "imagePullSecrets": ["x"]},
        {"containers": [{"name": "a"}], "ephemeralContainers": [{}] * MAX_CONTAINERS},
        {"containers": [{"name": "a"}], "volumes": [{"name": f"v{i}"} for i in range(MAX_VOLUMES + 1)]},
    ],
)
def test_broken_pod_specs_are_not_sound_and_are_refused(spec: dict[str, Any]) -> None:
    assert not is_sound({"spec": spec})
    with pytest.raises(InvalidObject):
        check_pod_spec({"spec": spec}, ())
