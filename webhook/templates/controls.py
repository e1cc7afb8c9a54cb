"""The fields of a template that shape its injection per workload, read and checked at load:
``targetContainers``, ``initContainersFirst``, ``overridable``, and the variables in its strings
(parsed once here, with ``core.render``; the template is checked with its references in place).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webhook.core.model import DEFAULT_OVERRIDABLE, OVERRIDABLE_FIELDS
from webhook.core.render import NO_VARIABLES, Variables, compile_variables
from webhook.templates.errors import show
from webhook.templates.findings import Findings
from webhook.templates.k8s_formats import dns_label

CONTROL_FIELDS = ("targetContainers", "initContainersFirst", "overridable")


@dataclass(frozen=True, slots=True)
class Controls:
    target_containers: tuple[str, ...] | None = None
    init_containers_first: bool = False
    overridable: frozenset[str] = DEFAULT_OVERRIDABLE
    variables: Variables = NO_VARIABLES


def with_variables(body: dict[str, Any], findings: Findings) -> tuple[dict[str, Any], Variables]:
    """The body with escapes (``$$[``) undone, and where its strings reference the workload."""
    unescaped, sites, problems = compile_variables(body)
    for path, message in problems:
        findings.add(path, message)
    return unescaped, Variables.of(sites)


def read_controls(body: dict[str, Any], sites: Variables, findings: Findings) -> Controls:
    return Controls(
        target_containers=_names(body, "targetContainers", findings),
        init_containers_first=_flag(body, "initContainersFirst", findings),
        overridable=_overridable(body, findings),
        variables=sites,
    )


def _names(body: dict[str, Any], field: str, findings: Findings) -> tuple[str, ...] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        findings.add((field,), "expected a list of container names")
        return None
    for index, name in enumerate(value):
        findings.extend((field, index), [f"{show(name)} {message}" for message in dns_label(name)])
        if name in value[:index]:
            findings.add((field, index), f"duplicate name {show(name)}")
    return tuple(value)


def _flag(body: dict[str, Any], field: str, findings: Findings) -> bool:
    value = body.get(field, False)
    if not isinstance(value, bool):
        findings.add((field,), "expected true or false")
        return False
    return value


def _overridable(body: dict[str, Any], findings: Findings) -> frozenset[str]:
    value = body.get("overridable")
    if value is None:
        return DEFAULT_OVERRIDABLE
    allowed = ", ".join(OVERRIDABLE_FIELDS)
    if not isinstance(value, list) or not all(isinstance(field, str) for field in value):
        findings.add(("overridable",), f"expected a list of container fields ({allowed})")
        return DEFAULT_OVERRIDABLE
    for index, field in enumerate(value):
        if field not in OVERRIDABLE_FIELDS:
            findings.add(
                ("overridable", index), f"{show(field)} cannot be overridden; expected one of {allowed}"
            )
        elif field in value[:index]:
            findings.add(("overridable", index), f"duplicate field {show(field)}")
    return frozenset(field for field in value if field in OVERRIDABLE_FIELDS)
