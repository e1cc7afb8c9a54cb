"""A template error stays a readable size whatever the template: it never echoes a huge value."""

from __future__ import annotations

import pytest

from webhook.templates import TemplateError
from webhook.templates.errors import MAX_MESSAGE, MAX_PART, MAX_PROBLEMS, Problem
from webhook.templates.parsing import TemplateDocument, parse_template


def error_of(text: str) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        parse_template(TemplateDocument("t", None, "ConfigMap ns/t", "template", text), "1.35")
    return caught.value


def test_a_huge_value_in_the_wrong_place_is_not_echoed() -> None:
    # The schema's message quotes the value: a 200 KiB string (or its expanded alias) must not follow.
    big = "x" * 200_000
    error = error_of(f"containers: [{{name: c, image: i, ports: [{{containerPort: '{big}'}}]}}]")
    assert "is not of type 'integer'" in str(error)
    assert len(str(error)) < 1000
    listed = error_of(f"containers: [{{name: c, image: i, command: {{a: '{big}'}}}}]")
    assert len(str(listed)) < 1000


def test_every_problem_is_counted_but_only_fifty_are_listed() -> None:
    env = ", ".join(f"{{name: 'BAD={i}', value: x}}" for i in range(500))
    error = error_of(f"env: [{env}]")
    assert len(error.problems) == MAX_PROBLEMS and error.omitted == 450
    assert str(error).startswith("ConfigMap ns/t, key 'template': 500 problems:\n")
    assert str(error).endswith("  … and 450 more")
    assert error.lines()[-1] == "ConfigMap ns/t, key 'template': … and 450 more problems"
    assert len(str(error)) < 20_000


def test_every_part_of_an_error_is_clipped() -> None:
    error = TemplateError(
        "ConfigMap " + "n" * 10_000,
        "k" * 10_000,
        "",
        "",
        file="/" + "d" * 10_000,
        problems=[Problem("f" * 10_000, "m" * 100_000, 7)],
    )
    assert len(error.source) < MAX_PART + 40 and len(error.key) < MAX_PART + 40
    assert len(error.problems[0].field) < MAX_PART + 40
    assert len(error.message) < MAX_MESSAGE + 60 and "(99600 characters left out)" in error.message
    assert len(str(error)) < 4 * (MAX_PART + 60) + MAX_MESSAGE + 100


def test_surrogate_escapes_are_refused_one_way_or_another() -> None:
    # PyYAML decodes "\\ud83d" to half a surrogate pair (which orjson cannot encode); libyaml refuses
    # the escape outright. Either way the template is refused, at the field or as YAML.
    error = error_of('annotations: {"a\\ud83d\\ude00": x}')
    assert "surrogate pair" in error.message or "not valid YAML" in error.message
