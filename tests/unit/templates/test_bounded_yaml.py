"""The bounded YAML loader: aliases cost what they expand to, and nothing hostile is ever walked as a tree."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.bounded_yaml import (
    FILE_LIMITS,
    TEMPLATE_LIMITS,
    Limits,
    YamlProblem,
    expanded_size,
    line_of,
    load_all,
    load_one,
)


def laughs(levels: int, fanout: int = 9) -> str:
    """A "billion laughs": each level a list of ``fanout`` aliases of the level below."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fanout)}]")
    return "\n".join(lines) + "\n"


def tree_size(value: Any) -> int:
    """Nodes of ``value`` walked as a tree, as schema validation and JSON encoding walk it."""
    if isinstance(value, dict):
        return 1 + sum(1 + tree_size(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(tree_size(v) for v in value)
    return 1


def test_a_billion_laughs_is_refused_before_anything_walks_it() -> None:
    text = laughs(9)  # 9^9 = 387 million strings from 500 bytes
    assert len(text) < 600
    with pytest.raises(YamlProblem, match="expands to more than 512 Ki nodes and characters") as caught:
        load_one(text, TEMPLATE_LIMITS)
    assert caught.value.line is not None and caught.value.line <= 9


def test_aliases_within_the_bound_are_fine_and_cost_their_expanded_size() -> None:
    text = "env: &env [{name: A, value: '1'}, {name: B, value: '2'}]\ncontainers:\n- {name: a, env: *env}\n- {name: b, env: *env}\n"
    loaded = load_one(text, TEMPLATE_LIMITS)
    assert loaded.value["containers"][1]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    # Exactly at the bound passes, one below it fails: the bound is on the expanded tree.
    small = laughs(3, 3)
    load_one(small, Limits(text_bytes=1024, expanded=10_000))
    with pytest.raises(YamlProblem, match="expands"):
        load_one(small, Limits(text_bytes=1024, expanded=40))


def test_merge_keys_are_counted_at_every_use() -> None:
    # PyYAML's merge (<<) copies entries node by node: nested merges double at every level.
    lines = ["a0: &a0 {x: 1, y: 2}"]
    lines += [f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], k{i}: v}}" for i in range(1, 30)]
    with pytest.raises(YamlProblem, match="expands"):
        load_one("\n".join(lines), TEMPLATE_LIMITS)


def test_a_recursive_alias_and_deep_nesting_are_refused() -> None:
    with pytest.raises(YamlProblem, match="refers to a node that contains it"):
        load_one("a: &a [1, *a]", TEMPLATE_LIMITS)
    with pytest.raises(YamlProblem, match="nested deeper than 100 levels"):
        load_one("a: " + "[" * 150 + "]" * 150, TEMPLATE_LIMITS)
    with pytest.raises(YamlProblem, match="not valid YAML"):
        load_one("[" * 100_000, TEMPLATE_LIMITS)


def test_the_text_size_is_bounded_before_parsing() -> None:
    with pytest.raises(YamlProblem, match="larger than 256 KiB"):
        load_one("a: " + "x" * (256 * 1024), TEMPLATE_LIMITS)
    with pytest.raises(YamlProblem, match="larger than 256 KiB"):
        load_one("a: " + "é" * (128 * 1024), TEMPLATE_LIMITS)  # bytes, not characters


def test_the_budget_of_a_file_is_shared_by_its_documents() -> None:
    document = laughs(3, 8) + "---\n"  # 8^3 = 512 strings each
    one = expanded_size(load_one(laughs(3, 8), FILE_LIMITS).node, FILE_LIMITS)  # type: ignore[arg-type]
    limits = Limits(text_bytes=FILE_LIMITS.text_bytes, expanded=3 * one + 10)
    load_one(laughs(3, 8), Limits(text_bytes=1024, expanded=one))  # one alone is within any one's share
    assert len(load_all(document * 3, limits)) == 4  # three documents and the empty one after the last ---
    with pytest.raises(YamlProblem, match="expands"):
        load_all(document * 4, limits)


def test_line_of_names_the_key_of_a_field() -> None:
    text = "containers:\n- name: a\n  resources:\n    limits:\n      memory: lots\n"
    loaded = load_one(text, TEMPLATE_LIMITS)
    assert line_of(loaded.node, ("containers", 0, "resources", "limits", "memory")) == 5
    assert line_of(loaded.node, ("containers", 0, "resources")) == 3
    assert line_of(loaded.node, ("containers", 0, "missing", "deeper")) == 2
    assert line_of(loaded.node, ()) == 1


# Hostile YAML: anchors and aliases over a random structure. Whatever comes in, the loader either
# refuses it or returns data whose tree is within the bound; it never raises anything else.
ANCHORED = st.recursive(
    st.sampled_from(["x", "1", "null", "''"]),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=6).map(lambda items: f"[{', '.join(items)}]")
        | st.lists(inner, min_size=1, max_size=4).map(
            lambda items: "{" + ", ".join(f"k{i}: {item}" for i, item in enumerate(items)) + "}"
        )
    ),
    max_leaves=12,
)


@st.composite
def hostile_documents(draw: st.DrawFn) -> str:
    levels = draw(st.integers(1, 8))
    lines = [f"a0: &a0 {draw(ANCHORED)}"]
    for level in range(1, levels):
        fanout = draw(st.integers(1, 12))
        targets = [f"*a{draw(st.integers(0, level - 1))}" for _ in range(fanout)]
        lines.append(f"a{level}: &a{level} [{', '.join(targets)}]")
    return "\n".join(lines)


@given(hostile_documents())
def test_hostile_aliases_either_load_within_the_bound_or_are_refused(text: str) -> None:
    limits = Limits(text_bytes=64 * 1024, expanded=20_000)
    try:
        loaded = load_one(text, limits)
    except YamlProblem as exc:
        assert exc.message
        return
    assert tree_size(loaded.value) <= limits.expanded
