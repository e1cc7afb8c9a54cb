"""The template fields that shape injection per workload, and template variables, as the loader reads
and checks them (every problem at once, each with its field path and line)."""

from __future__ import annotations

import pytest

from webhook.core.model import DEFAULT_OVERRIDABLE
from webhook.core.render import MAX_REFERENCES, Reference, VariableSite
from webhook.templates import TemplateError
from webhook.templates.parsing import TemplateDocument, parse_template

AGENT = "containers:\n- name: agent\n  image: agent:1\n"


def parse(text: str) -> object:
    return parse_template(TemplateDocument("t", None, "ConfigMap ns/t", "template", text))


def problems(text: str) -> list[tuple[str, str, int | None]]:
    with pytest.raises(TemplateError) as raised:
        parse(text)
    return [(p.field, p.message, p.line) for p in raised.value.problems]


def test_the_control_fields_are_read() -> None:
    template = parse_template(
        TemplateDocument(
            "t",
            None,
            "s",
            "template",
            AGENT + "targetContainers: [web, api]\ninitContainersFirst: true\noverridable: [image, env]\n",
        )
    )
    assert template.target_containers == ("web", "api")
    assert template.init_containers_first is True
    assert template.overridable == frozenset({"image", "env"})


def test_without_them_every_app_container_is_targeted_and_resources_are_overridable() -> None:
    template = parse_template(TemplateDocument("t", None, "s", "template", AGENT))
    assert (template.target_containers, template.init_containers_first) == (None, False)
    assert template.overridable == DEFAULT_OVERRIDABLE == frozenset({"resources"})
    assert not template.variables


def test_bad_control_fields_are_all_reported_with_their_lines() -> None:
    text = (
        AGENT
        + "targetContainers: [web, Web_1, web]\ninitContainersFirst: yes please\noverridable: [image, volumeMounts, image]\n"
    )
    found = problems(text)
    fields = {f for f, _, _ in found}
    assert {
        "targetContainers[1]",
        "targetContainers[2]",
        "initContainersFirst",
        "overridable[1]",
        "overridable[2]",
    } <= fields
    by_field = {f: (m, line) for f, m, line in found}
    assert by_field["overridable[1]"][0].startswith(
        "'volumeMounts' cannot be overridden; expected one of resources"
    )
    assert by_field["initContainersFirst"] == ("expected true or false", 5)
    assert by_field["targetContainers[2]"] == ("duplicate name 'web'", 4)
    assert by_field["targetContainers[1]"][0].startswith("'Web_1' ")


def test_variables_are_parsed_once_at_load_with_their_places() -> None:
    template = parse_template(
        TemplateDocument(
            "t",
            None,
            "s",
            "template",
            'containers:\n- name: agent\n  image: "agent:$[labels.v|1]"\n  args: ["$$[x]", "-n=$[namespace]"]\n'
            'annotations: {example.com/app: "$[labels.app]"}\n',
        )
    )
    assert set(template.variables) == {
        VariableSite(("containers", 0, "image"), ("agent:", Reference("labels.v", "1"))),
        VariableSite(("containers", 0, "args", 1), ("-n=", Reference("namespace"))),
        VariableSite(("annotations", "example.com/app"), (Reference("labels.app"),)),
    }
    assert template.containers[0]["args"] == ["$[x]", "-n=$[namespace]"]  # an escape only: undone at load


def test_a_reference_is_checked_where_it_stands() -> None:
    text = (
        'containers:\n- name: agent\n  image: agent\n  args: ["$[lables.app]", "$[name"]\n'
        '  workingDir: /$[name]\nvolumes:\n- name: v\n  configMap: {name: "$[name]-config"}\n'
    )
    found = {(f, line): m for f, m, line in problems(text)}
    assert found[("containers[0].args[0]", 4)].startswith(
        "unknown variable 'lables.app' in $[lables.app]; expected one of namespace"
    )
    assert found[("containers[0].args[1]", 4)] == "unclosed '$['; write '$$[' for a literal '$['"
    assert found[("containers[0].workingDir", 5)].startswith(
        "variables are allowed only in image, command, args"
    )
    assert found[("volumes[0].configMap.name", 8)].startswith("variables are allowed only in")


def test_the_number_of_references_is_bounded() -> None:
    at_bound = " ".join(["$[name]"] * MAX_REFERENCES)
    parse(AGENT + f'  args: ["{at_bound}"]\n')
    [(_, message, _)] = problems(AGENT + f'  args: ["{at_bound} $[name]"]\n')
    assert message == f"{MAX_REFERENCES + 1} variable references; at most {MAX_REFERENCES} are allowed"


def test_a_registry_policy_holds_with_references_in_place() -> None:
    """An image whose registry part is a variable cannot pass an allowed-registry policy: the prefix
    is checked on the text as written."""
    from webhook.core.security import TemplateSecurityPolicy

    policy = TemplateSecurityPolicy(allowed_registries=("registry.example.com",))
    good = 'containers:\n- name: agent\n  image: "registry.example.com/agent:$[labels.v|1]"\n'
    bad = 'containers:\n- name: agent\n  image: "$[annotations.registry|registry.example.com]/agent:1"\n'
    parse_template(TemplateDocument("t", None, "s", "template", good), security=policy)
    with pytest.raises(TemplateError, match=r"is not from registry\.example\.com"):
        parse_template(TemplateDocument("t", None, "s", "template", bad), security=policy)
