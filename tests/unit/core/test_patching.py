from __future__ import annotations

import jsonpatch
import pytest

from webhook.core import InvalidObject
from webhook.core.patching import PatchBuilder, escape_token, pointer


def test_pointer_tokens_escape_tilde_before_slash() -> None:
    assert (
        escape_token("initializer.kubernetes.io/logging-agent") == "initializer.kubernetes.io~1logging-agent"
    )
    assert escape_token("a~/b") == "a~0~1b"
    assert pointer(("metadata", "annotations", "x/y~z")) == "/metadata/annotations/x~1y~0z"


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
