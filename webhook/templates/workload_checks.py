"""The readers the core needs for a workload's overrides (``core.model.WorkloadReaders``): the
bounded YAML loader for the annotation, and the template loader's container checks for the
overridden container. Built by the composition root (``serve``) and by ``inject``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.bounded_yaml import Limits, YamlProblem, load_one
from webhook.core.model import WorkloadReaders
from webhook.core.overrides import MAX_DEPTH, MAX_OVERRIDES_BYTES
from webhook.templates.container_rules import RuleOptions, check_container
from webhook.templates.findings import Findings, format_path
from webhook.templates.parsing import check_json
from webhook.templates.schema import schema_errors

# The annotation is read before its shape is known: a field value of a container is a few levels
# deep, and the text was already refused by the core beyond MAX_OVERRIDES_BYTES.
OVERRIDE_LIMITS = Limits(text_bytes=MAX_OVERRIDES_BYTES, expanded=2 * MAX_OVERRIDES_BYTES, depth=MAX_DEPTH)


def parse_overrides(text: str) -> object:
    try:
        return load_one(text, OVERRIDE_LIMITS).value
    except YamlProblem as exc:
        raise ValueError(exc.message) from exc


def container_problems(
    container: dict[str, Any], kind: str, volumes: Mapping[str, Any], version: str
) -> tuple[str, ...]:
    """What the template loader would report for this container, as ``path: message`` lines."""
    findings = Findings()
    check_json(container, (), findings)  # what YAML can hold but a JSON patch cannot
    if findings:
        return tuple(f"{format_path(path) or '(container)'}: {message}" for path, message in findings.items)
    for path, message in schema_errors("containers", [container], version):
        findings.add(path[2:], message)  # ("containers", 0, ...) → the container's own fields
    if not findings:  # the rules read the values as the schema typed them
        check_container(container, (), findings, kind, volumes, RuleOptions.for_version(version))
    return tuple(f"{format_path(path) or '(container)'}: {message}" for path, message in findings.items)


def workload_readers(kubernetes_version: str) -> WorkloadReaders:
    def check(container: dict[str, Any], kind: str, volumes: Mapping[str, Any]) -> tuple[str, ...]:
        return container_problems(container, kind, volumes, kubernetes_version)

    return WorkloadReaders(parse_overrides, check)
