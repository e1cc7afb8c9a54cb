"""One manifest reader for template folders and ``inject``: the same objects, the same refusals."""

from __future__ import annotations

import pytest

from webhook.core import InjectionPolicy, TemplateSet
from webhook.manifests import ManifestError, load_documents
from webhook.offline import inject_documents
from webhook.templates import TemplateError
from webhook.templates.parsing import load_manifests

NOT_OBJECTS = {
    "a list document": ("- a\n- b\n", "line 1: the document is a list, not a Kubernetes object"),
    "a scalar document": ("kind: Pod\n---\nhello\n", "line 3: the document is a string, not a Kubernetes"),
    "a number document": ("---\n42\n", "line 2: the document is a number, not a Kubernetes object"),
    "a List item that is a string": (
        "kind: List\nitems:\n- {kind: Pod}\n- hello\n",
        "line 4: kind List: items[1] is a string, not a Kubernetes object",
    ),
    "a List item that is a list": (
        "kind: List\nitems:\n\n- [1, 2]\n",
        "line 4: kind List: items[0] is a list, not a Kubernetes object",
    ),
    "a List whose items are a map": (
        "kind: List\nitems: {a: 1}\n",
        "line 1: kind List: items is a dict, not a list of objects",
    ),
    "broken YAML": ("a: [1\n", "line 2: not valid YAML: "),
    "a control character": (
        "kind: Pod\nmetadata: {name: a\x1fb}\n",
        "not valid YAML: unacceptable character #x001f",
    ),
}


@pytest.mark.parametrize("text, message", NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
def test_the_template_folders_and_inject_refuse_the_same_non_objects_with_the_same_message(
    text: str, message: str
) -> None:
    with pytest.raises(ManifestError) as loaded:
        load_documents(text)
    assert str(loaded.value).startswith(message)
    with pytest.raises(TemplateError) as template_error:
        load_manifests(text, "folder/file.yaml")
    problem, line = loaded.value.problem, loaded.value.line
    where = f"folder/file.yaml:{line}" if line else "folder/file.yaml"
    assert str(template_error.value) == f"{where}: {problem}"
    with pytest.raises(ManifestError) as injected:
        inject_documents(text, TemplateSet({}), InjectionPolicy(), "default")
    assert str(injected.value) == str(loaded.value)


def test_lists_are_flattened_in_place_and_empty_documents_skipped() -> None:
    text = (
        "kind: ConfigMap\nmetadata: {name: a}\n---\n---\n# only a comment\n---\n"
        "kind: List\nitems:\n- {kind: ConfigMap, metadata: {name: b}}\n- {kind: ConfigMap, metadata: {name: c}}\n"
        "---\nkind: List\n---\nkind: ConfigMap\nmetadata: {name: d}\n"
    )
    objects = [obj for document in load_documents(text) for obj in document.objects]
    assert [o["metadata"]["name"] for o in objects] == ["a", "b", "c", "d"]
    assert [(d.line, len(d.objects)) for d in load_documents(text)] == [(1, 1), (7, 2), (12, 0), (14, 1)]


def test_inject_keeps_a_list_a_list_and_refuses_an_input_without_objects() -> None:
    text = "kind: List\napiVersion: v1\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
    outputs, injected = inject_documents(text, TemplateSet({}), InjectionPolicy(), "default")
    assert outputs == [load_documents(text)[0].body] and len(injected) == 1
    for empty in ("", "\n# nothing\n", "---\n---\n"):
        with pytest.raises(ManifestError, match="no Kubernetes objects in the input"):
            inject_documents(empty, TemplateSet({}), InjectionPolicy(), "default")
