"""A configuration copied from a cluster one does not own may be hostile: every cost is bounded and the
only failure is a ConversionError (or a warning), whatever the input."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from webhook.convert import FORMATS, ConversionError, import_configs, render

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)


def configmap(data: dict[str, str]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})


@pytest.mark.parametrize("source_format", FORMATS)
def test_an_alias_bomb_file_is_refused_before_it_expands(source_format: str) -> None:
    started = time.process_time()
    with pytest.raises(ConversionError, match="expands to more than"):
        import_configs(source_format, {"bomb.yaml": BOMB})
    assert time.process_time() - started < 5  # a bound, not a benchmark: unbounded would take hours


@pytest.mark.parametrize(
    "source_format, key",
    [("tumblr", "sidecar"), ("expedia", "sidecars.yaml"), ("salesforce", "sidecarconfig.yaml")],
)
def test_an_alias_bomb_in_a_configmap_key_is_not_expanded(source_format: str, key: str) -> None:
    data = {key: BOMB}
    if source_format == "salesforce":
        data["mutationconfig.yaml"] = "mutationConfigs: []"
    try:
        result = import_configs(source_format, {"cm.yaml": configmap(data)})
    except ConversionError as exc:
        assert "expands to more than" in exc.message
    else:
        assert any("expands to more than" in w.message for w in result.warnings)


def test_many_small_keys_full_of_aliases_share_one_budget() -> None:
    # Each key expands to just under the per-key limit; together they pass the import's budget.
    wide = "a: &a [" + ", ".join(["xxxxxxxx"] * 1000) + "]\n" + "".join(f"k{i}: *a\n" for i in range(100))
    data = {f"key-{i}": wide for i in range(40)}
    with pytest.raises(ConversionError, match="expands to too much"):
        import_configs("tumblr", {"cm.yaml": configmap(data)})


def test_deep_nesting_is_refused() -> None:
    deep = "name: a\ncontainers: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ConversionError):
        import_configs("tumblr", {"deep.yaml": deep})


def test_a_fan_of_configurations_inheriting_one_large_parent_is_bounded_by_the_output_limit() -> None:
    containers = [{"name": f"c{i}", "image": "x" * 200, "args": ["y" * 1000] * 10} for i in range(40)]
    files = {"base.yaml": yaml.safe_dump({"name": "base", "containers": containers})}
    files.update({f"child{i}.yaml": f"name: child{i}\ninherits: base.yaml\n" for i in range(200)})
    with pytest.raises(ConversionError, match="the templates would exceed"):
        import_configs("tumblr", files)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "name",
        "inherits",
        "containers",
        "initContainers",
        "volumes",
        "env",
        "volumeMounts",
        "hostAliases",
        "hostNetwork",
        "serviceAccountName",
        "mutationConfigs",
        "annotationConfig",
        "annotations",
        "labels",
        "imagePullSecrets",
    ]
)
CONFIGS = st.dictionaries(FIELDS, JSONISH, min_size=1, max_size=5)


@given(st.sampled_from(FORMATS), st.lists(CONFIGS, min_size=1, max_size=3), st.lists(CONFIGS, max_size=3))
def test_any_shape_of_configuration_converts_or_is_refused_with_a_reason(
    source_format: str, plain: list[dict[str, object]], in_configmap: list[dict[str, object]]
) -> None:
    files = {f"f{i}.yaml": yaml.safe_dump(body) for i, body in enumerate(plain)}
    data = {"sidecars.yaml": yaml.safe_dump([*in_configmap]), "sidecarconfig.yaml": yaml.safe_dump(plain[0])}
    data.update({f"k{i}": yaml.safe_dump(body) for i, body in enumerate(in_configmap)})
    files["cm.yaml"] = configmap(data)
    files["w.yaml"] = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "annotations": {"x/y": "z"}},
            "spec": {},
        }
    )
    try:
        result = import_configs(source_format, files)
    except ConversionError as exc:
        assert exc.message and "\n" not in str(exc).strip()
        return
    for template in result.templates:
        json.dumps(dict(template.body))  # every template is plain JSON
    yaml.safe_load_all(render(result))


def test_one_template_beyond_what_our_loader_takes_says_so_without_validating_it() -> None:
    huge = yaml.safe_dump(
        {"name": "huge", "containers": [{"name": "a", "image": "a", "args": ["x" * 300_000]}]}
    )
    result = import_configs("tumblr", {"huge.yaml": huge})
    assert [w.message for w in result.warnings] == [
        "template huge will be refused when loaded: larger than 256 KiB"
    ]
