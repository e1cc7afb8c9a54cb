"""Template names from source names, and recognising other injectors' ConfigMaps (for templates validate)."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from webhook.convert import detect_format
from webhook.convert.names import NameRegistry, to_label

LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@given(st.text(max_size=300))
def test_any_name_maps_to_a_dns_label_or_to_nothing(text: str) -> None:
    label = to_label(text)
    if label is None:
        assert not re.sub(r"[^a-z0-9]", "", text.lower())
    else:
        assert len(label) <= 63 and LABEL.fullmatch(label)
        assert to_label(text) == label  # the same source name always gets the same template name


def test_a_long_name_keeps_its_start_and_gains_a_digest_of_the_whole() -> None:
    one, two = to_label("a" * 70 + "-one"), to_label("a" * 70 + "-two")
    assert one is not None and two is not None and one != two
    assert one.startswith("a" * 56) and len(one) == 63


def test_the_first_claimant_keeps_the_label_and_the_next_gets_a_digest() -> None:
    registry = NameRegistry()
    assert registry.claim("a-b", "a:b") == ("a-b", None)
    assert registry.claim("a-b", "a:b") == ("a-b", None)
    label, owner = registry.claim("a-b", "a_b")
    assert owner == "a:b" and label.startswith("a-b-") and LABEL.fullmatch(label)


def configmap(data: dict[str, str], **metadata: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", **metadata}, "data": data}


@pytest.mark.parametrize(
    "data, found",
    [
        ({"sidecar": "name: agent\ncontainers: [{name: a, image: b}]\n"}, "tumblr"),
        ({"junk": "{{{", "sidecar": "name: agent:v1\nenv: []\n"}, "tumblr"),
        ({"mutationconfig.yaml": "mutationConfigs: []"}, "salesforce"),
        ({"sidecarconfig.yaml": "containers: []"}, "salesforce"),
        ({"sidecars.yaml": "- name: a\n  containers: [{name: a, image: b}]\n"}, "expedia"),
        ({"template": "containers: [{name: a, image: b}]\n"}, None),
        ({"config": "containers: [{name: a, image: b}]\n"}, None),
        ({"fluent.conf": "[INPUT]\n  Name tail\n"}, None),
        ({"app.yaml": "name: shop\nreplicas: 3\n"}, None),
        ({"sidecars.yaml": "- colour: blue\n"}, None),
    ],
)
def test_each_format_is_recognised_and_nothing_else_is(data: dict[str, str], found: str | None) -> None:
    assert detect_format(configmap(data)) == found


def test_only_configmaps_with_string_data_are_looked_at() -> None:
    assert detect_format({"kind": "Secret", "data": {"sidecars.yaml": "- name: a"}}) is None
    assert detect_format({"kind": "ConfigMap", "data": ["sidecars.yaml"]}) is None
    assert detect_format({"kind": "ConfigMap"}) is None


def test_a_configmap_of_alias_bombs_costs_a_bounded_look_and_is_not_recognised() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    data = {f"key-{i}": bomb for i in range(200)}
    assert detect_format(configmap(data)) is None


def test_a_manifest_read_back_from_yaml_is_recognised_too() -> None:
    text = yaml.safe_dump(configmap({"sidecars.yaml": "- containers: [{name: a, image: b}]\n"}))
    assert detect_format(yaml.safe_load(text)) == "expedia"
