from __future__ import annotations

import jsonpatch
import jsonpointer
import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.core import InvalidObject
from webhook.core.patching import PatchBuilder, escape_token, pointer


def test_pointer_tokens_escape_tilde_before_slash() -> None:
    assert (
        escape_token("initializer.kubernetes.io/logging-agent") == "initializer.kubernetes.io~1logging-agent"
    )
    assert escape_token("a~/b") == "a~0~1b"
    assert pointer(("metadata", "annotations", "x/y~z")) == "/metadata/annotations/x~1y~0z"
    assert pointer(()) == ""
    assert pointer(("",)) == "/"


@given(st.lists(st.text(alphabet="ab/~0", max_size=4), max_size=4))
def test_pointer_is_what_jsonpointer_writes_for_any_tokens(tokens: list[str]) -> None:
    """The joined fast path (no escape needed) and the escaping path give RFC 6901's pointer."""
    assert pointer(tokens) == jsonpointer.JsonPointer.from_parts(tokens).path


def test_a_missing_array_is_created_once_and_later_items_are_appended() -> None:
    pod = {"spec": {"containers": [{"name": "app"}]}}
    builder = PatchBuilder(pod)
    for name in ("a", "b", "c"):
        builder.append(("spec", "volumes"), {"name": name})
    assert [op["path"] for op in builder.ops] == ["/spec/volumes", "/spec/volumes/-", "/spec/volumes/-"]
    patched = jsonpatch.apply_patch(pod, builder.ops)
    assert [v["name"] for v in patched["spec"]["volumes"]] == ["a", "b", "c"]
    assert pod == {"spec": {"containers": [{"name": "app"}]}}, "the original is never touched"


def test_missing_intermediate_maps_are_created_in_one_op() -> None:
    obj = {"spec": {"template": {"spec": {}}}}
    builder = PatchBuilder(obj)
    builder.put(("spec", "template", "metadata", "annotations"), "k/1", "v")
    builder.put(("spec", "template", "metadata", "annotations"), "k/2", "w")
    builder.put(("spec", "template", "metadata", "labels"), "l", "x")
    assert builder.ops == [
        {"op": "add", "path": "/spec/template/metadata", "value": {"annotations": {"k/1": "v"}}},
        {"op": "add", "path": "/spec/template/metadata/annotations/k~12", "value": "w"},
        {"op": "add", "path": "/spec/template/metadata/labels", "value": {"l": "x"}},
    ]
    patched = jsonpatch.apply_patch(obj, builder.ops)
    assert patched["spec"]["template"]["metadata"] == {
        "annotations": {"k/1": "v", "k/2": "w"},
        "labels": {"l": "x"},
    }


def test_a_null_array_is_replaced_rather_than_appended_to() -> None:
    pod = {"spec": {"volumes": None}}
    builder = PatchBuilder(pod)
    builder.append(("spec", "volumes"), {"name": "a"})
    builder.append(("spec", "volumes"), {"name": "b"})
    assert jsonpatch.apply_patch(pod, builder.ops)["spec"]["volumes"] == [{"name": "a"}, {"name": "b"}]


def test_values_of_the_wrong_type_are_reported_with_their_field() -> None:
    with pytest.raises(InvalidObject, match=r"spec\.volumes: expected a list"):
        PatchBuilder({"spec": {"volumes": "x"}}).append(("spec", "volumes"), {"name": "a"})
    with pytest.raises(InvalidObject, match=r"metadata\.annotations: expected a map"):
        PatchBuilder({"metadata": {"annotations": []}}).put(("metadata", "annotations"), "k", "v")
    with pytest.raises(InvalidObject, match=r"^spec: expected a map"):
        PatchBuilder({"spec": []}).append(("spec", "volumes"), {"name": "a"})


@pytest.mark.parametrize("own", [None, [], [{"name": "own"}]])
def test_items_inserted_at_an_index_come_before_the_lists_own_and_after_each_other(own: object) -> None:
    pod: dict[str, object] = {"spec": {"containers": [{"name": "app"}]}}
    if own is not None:
        pod["spec"]["initContainers"] = own  # type: ignore[index]
    builder = PatchBuilder(pod)
    builder.append(("spec", "initContainers"), {"name": "last"})
    builder.insert(("spec", "initContainers"), 0, {"name": "first"})
    builder.insert(("spec", "initContainers"), 1, {"name": "second"})
    patched = jsonpatch.apply_patch(pod, builder.ops)
    own_names = [c["name"] for c in own or []]  # type: ignore[attr-defined]
    assert [c["name"] for c in patched["spec"]["initContainers"]] == ["first", "second", *own_names, "last"]
    created = [op for op in builder.ops if op["path"] == "/spec/initContainers"]
    assert created == (
        [{"op": "add", "path": "/spec/initContainers", "value": [{"name": "last"}]}] if own is None else []
    )
    if own is None:  # the builder's view of the list it created follows the inserts; the op stays as emitted
        assert [c["name"] for c in builder.lookup(("spec", "initContainers"))] == ["first", "second", "last"]


def test_an_insert_into_something_else_than_a_list_is_refused() -> None:
    with pytest.raises(InvalidObject, match="expected a list"):
        PatchBuilder({"spec": {"initContainers": {}}}).insert(("spec", "initContainers"), 0, {"name": "x"})
