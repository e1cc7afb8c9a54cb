"""Would the injected templates break the namespace's Pod Security level?

Pod Security admission checks Pods only. A Deployment whose injected sidecar needs ``baseline`` in a
namespace that enforces ``restricted`` is admitted, then every pod its ReplicaSet creates is refused,
far from the change that caused it. The engine asks this module before injecting and warns or denies
(by policy) at the Deployment's own admission, where the author sees it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.core.levels import LEVEL_NAMES, PodSecurityLevel
from webhook.core.model import Template
from webhook.core.security import Violation, level_of, security_findings

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def enforced_level(labels: Mapping[str, str] | None, default: PodSecurityLevel) -> PodSecurityLevel:
    """The level Pod Security admission enforces for a namespace with these labels.

    ``default`` is the cluster's own default (AdmissionConfiguration ``defaults.enforce``; Kubernetes
    ships ``privileged``). A value that is not a level is evaluated as ``restricted``, as Pod Security
    admission does, rather than letting a typo switch enforcement off.
    """
    value = (labels or {}).get(ENFORCE_LABEL)
    if value is None:
        return default
    return PodSecurityLevel(value) if value in LEVEL_NAMES else PodSecurityLevel.RESTRICTED


@dataclass(frozen=True, slots=True)
class PodSecurityGap:
    """A template that needs a lower level (``needs``) than the namespace enforces."""

    template: str
    needs: PodSecurityLevel
    enforced: PodSecurityLevel
    namespace: str
    findings: tuple[Violation, ...]
    """Only the findings the enforced level forbids."""

    @property
    def summary(self) -> str:
        return (
            f"template {self.template!r} needs Pod Security level {self.needs.value!r} but namespace "
            f"{self.namespace!r} enforces {self.enforced.value!r}"
        )

    @property
    def fields(self) -> str:
        """The offending fields grouped by container or volume: short enough for a kubectl warning."""
        grouped: dict[str, list[str]] = {}
        for finding in self.findings:
            owner, _, field = finding.field.partition(".")
            grouped.setdefault(owner, []).append(field.removeprefix("securityContext.") or owner)
        return "; ".join(f"{owner}: {', '.join(fields)}" for owner, fields in grouped.items())


def pod_security_gaps(
    templates: Sequence[Template], pod_spec: Mapping[str, Any], namespace: str, enforced: PodSecurityLevel
) -> list[PodSecurityGap]:
    """The templates whose containers, volumes or annotations need a lower level than ``enforced``.

    The pod's own securityContext is taken into account (a container inherits ``runAsNonRoot`` and
    ``seccompProfile`` from it), so a restricted pod does not need restricted-complete templates.
    """
    if enforced == PodSecurityLevel.PRIVILEGED:
        return []
    pod_context = pod_spec.get("securityContext")
    gaps = []
    for template in templates:
        findings = security_findings(template, pod_context if isinstance(pod_context, dict) else None)
        needs = level_of(findings)
        if needs < enforced:
            forbidden = tuple(f for f in findings if f.level < enforced)
            gaps.append(PodSecurityGap(template.name, needs, enforced, namespace, forbidden))
    return gaps
