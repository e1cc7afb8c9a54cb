"""What a template may put into a pod: the administrator's policy, checked when a template loads.

Templates are administrators' data; workload authors only pick them by name. This policy is a second
guard for clusters where templates come from several teams (tenant namespaces), and it computes the
Pod Security Standards level a template needs (the rules are in ``security_rules``), so an injection
never silently lifts a workload out of its namespace's level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.levels import PodSecurityLevel, require_level
from webhook.core.model import Template
from webhook.core.security_rules import Rule, Violation, containers_of, security_findings

__all__ = [
    "TemplateSecurityPolicy",
    "Violation",
    "level_of",
    "policy_violations",
    "required_level",
    "security_findings",
]


@dataclass(frozen=True, slots=True)
class TemplateSecurityPolicy:
    """Every flag off, or ``maximum_level`` below privileged, rejects templates that need it.

    ``maximum_level`` is a PodSecurityLevel, never its name: ``PodSecurityLevel("baseline")`` reads one.
    """

    allow_privileged: bool = True
    allow_host_ports: bool = True
    allow_host_path: bool = True
    allow_added_capabilities: bool = True
    allowed_registries: tuple[str, ...] = ()
    maximum_level: PodSecurityLevel = PodSecurityLevel.PRIVILEGED

    def __post_init__(self) -> None:
        require_level(self.maximum_level, "maximum_level")

    @classmethod
    def restricted(cls, allowed_registries: tuple[str, ...] = ()) -> TemplateSecurityPolicy:
        return cls(False, False, False, False, allowed_registries, PodSecurityLevel.RESTRICTED)

    @property
    def forbidden_rules(self) -> frozenset[Rule]:
        """The rules whose findings this policy rejects whatever their level."""
        allowed = {
            Rule.PRIVILEGED: self.allow_privileged,
            Rule.HOST_PORTS: self.allow_host_ports,
            Rule.HOST_PATH: self.allow_host_path,
            Rule.ADDED_CAPABILITIES: self.allow_added_capabilities,
        }
        return frozenset(rule for rule, allow in allowed.items() if not allow)


def required_level(
    template: Template, pod_security_context: Mapping[str, Any] | None = None
) -> PodSecurityLevel:
    """The least permissive Pod Security level whose pods may carry this template."""
    return level_of(security_findings(template, pod_security_context))


def level_of(findings: list[Violation]) -> PodSecurityLevel:
    return min((finding.level for finding in findings), default=PodSecurityLevel.RESTRICTED)


def policy_violations(template: Template, policy: TemplateSecurityPolicy) -> list[Violation]:
    """Findings that make ``policy`` reject the template; empty means it may be served."""
    forbidden = policy.forbidden_rules
    violations = [
        finding
        for finding in security_findings(template)
        if finding.level < policy.maximum_level or finding.rule in forbidden
    ]
    if policy.allowed_registries:
        allowed = ", ".join(policy.allowed_registries)
        for where, container in containers_of(template):
            image = str(container.get("image", ""))
            if not any(image.startswith(prefix.rstrip("/") + "/") for prefix in policy.allowed_registries):
                message = f"{image!r} is not from {allowed}"
                violations.append(
                    Violation(Rule.REGISTRY, f"{where}.image", message, PodSecurityLevel.PRIVILEGED)
                )
    return violations
