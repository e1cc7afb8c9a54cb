"""verify_patch against jsonpatch: for any patch of ``add`` ops on any document, it applies exactly
when jsonpatch applies, gives what jsonpatch gives, and never changes the document or the ops."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from webhook.core import verify_patch
from webhook.core.jsontypes import PatchOp
from webhook.core.merging import names_in
from webhook.core.verification import PatchDoesNotApply

# Few names, so that generated paths often meet the generated document.
KEYS = st.sampled_from(["a", "b/~", ""])
SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)
TOKENS = KEYS | st.sampled_from(["-", "0", "1", "2", "01"])
PATHS = st.lists(TOKENS, min_size=1, max_size=4).map(
    lambda tokens: "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)
)
OPS = st.lists(
    st.builds(lambda path, value: {"op": "add", "path": path, "value": value}, PATHS, VALUES), max_size=4
)
DOCS = st.dictionaries(KEYS, VALUES, max_size=4)


def by_jsonpatch(doc: dict[str, Any], ops: list[PatchOp]) -> dict[str, Any] | None:
    try:
        patched: dict[str, Any] = jsonpatch.apply_patch(doc, ops)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException):
        return None
    return patched


@settings(max_examples=500)
@given(DOCS, OPS)
@example({"a": [1]}, [{"op": "add", "path": "/a/1", "value": 2}])  # at the end: an index, not "-"
@example({"a": [1]}, [{"op": "add", "path": "/a/01", "value": 2}])  # a leading zero is no index
def test_it_applies_exactly_what_jsonpatch_applies(doc: dict[str, Any], ops: list[PatchOp]) -> None:
    before, ops_before = copy.deepcopy(doc), copy.deepcopy(ops)
    expected = by_jsonpatch(doc, ops)
    try:
        patched = verify_patch(doc, tuple(ops), ("nowhere",))
    except PatchDoesNotApply:
        patched = None
    event("applies" if expected is not None else "does not apply")
    assert patched == expected
    assert doc == before and ops == ops_before, "the document and the ops are never changed"


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([{"op": "replace", "path": "/spec", "value": 1}], "unexpected op 'replace'"),
        ([{"op": "add", "path": "", "value": {}}], "replaces the whole object"),
        ([{"op": "add", "path": "/nope/x", "value": 1}], "'nope' is missing"),
        ([{"op": "add", "path": "/spec/containers/5", "value": {}}], "index out of range"),
        ([{"op": "add", "path": "/spec/containers/01", "value": {}}], "index out of range"),
        ([{"op": "add", "path": "/spec/containers/-", "value": {"name": "app"}}], "duplicate container"),
        (
            [
                {"op": "add", "path": "/spec/volumes", "value": [{"name": "v"}]},
                {"op": "add", "path": "/spec/volumes/-", "value": {"name": "v"}},
            ],
            "duplicate container or volume",
        ),
    ],
)
def test_a_patch_that_would_not_apply_or_breaks_names_is_refused(ops: list[PatchOp], message: str) -> None:
    pod = {"spec": {"containers": [{"name": "app"}]}}
    with pytest.raises(PatchDoesNotApply, match=message):
        verify_patch(pod, tuple(ops), ())


def test_ops_adding_into_an_earlier_ops_value_leave_that_value_alone() -> None:
    first: PatchOp = {"op": "add", "path": "/spec/volumes", "value": [{"name": "a"}]}
    second: PatchOp = {"op": "add", "path": "/spec/volumes/-", "value": {"name": "b"}}
    patched = verify_patch({"spec": {"containers": [{"name": "app"}]}}, (first, second), ())
    assert patched["spec"]["volumes"] == [{"name": "a"}, {"name": "b"}]
    assert first["value"] == [{"name": "a"}], "the op already emitted keeps its value"


def refused_by_name_counts(spec: Any) -> bool:
    """The name check as first written: the set of string names of the maps is as long as the list."""
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    volumes = spec.get("volumes") or []
    return len(names_in(containers)) != len(containers) or len(names_in(volumes)) != len(volumes)


NAMED = st.fixed_dictionaries({}, optional={"name": st.sampled_from(["a", "b", "c"]) | st.integers(0, 1)})
NAMED_LISTS = st.none() | st.lists(NAMED | st.sampled_from(["a", 1, None]), max_size=3) | st.just({})
POD_SPECS = st.fixed_dictionaries(
    {}, optional={"containers": NAMED_LISTS, "initContainers": NAMED_LISTS, "volumes": NAMED_LISTS}
)


@settings(max_examples=500)
@given(POD_SPECS)
@example({"containers": [{"name": "a"}], "volumes": [{"name": "a"}]})  # two name spaces
@example({"containers": [{"name": "a"}], "initContainers": [{"name": "a"}]})  # one name space
def test_unique_names_are_checked_as_the_name_counts_say(spec: dict[str, Any]) -> None:
    try:
        verify_patch({"spec": spec}, (), ())
    except PatchDoesNotApply:
        refused = True
    else:
        refused = False
    assert refused == refused_by_name_counts(spec)
