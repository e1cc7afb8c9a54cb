"""What a template may put into a pod: the administrator's policy, checked when a template loads.

Templates are administrators' data; workload authors only pick them by name. This policy is a second
guard for clusters where templates come from several teams (tenant namespaces), and it computes the
Pod Security Standards level a template needs, so an injection never silently lifts a workload out
of its namespace's level.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.jsontypes import JsonObject
from webhook.core.model import Template

# Pod Security Standards (v1.x): capabilities the baseline level lets a container add.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
LEVELS = ("privileged", "baseline", "restricted")
# Baseline's SELinux types (container_engine_t since Kubernetes 1.31).
ALLOWED_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True, slots=True)
class TemplateSecurityPolicy:
    """Every flag off, or ``maximum_level`` below privileged, rejects templates that need it."""

    allow_privileged: bool = True
    allow_host_ports: bool = True
    allow_host_path: bool = True
    allow_added_capabilities: bool = True
    allowed_registries: tuple[str, ...] = ()
    maximum_level: str = "privileged"

    @classmethod
    def restricted(cls, allowed_registries: tuple[str, ...] = ()) -> TemplateSecurityPolicy:
        return cls(False, False, False, False, allowed_registries, "restricted")


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    message: str
    level: str  # the highest Pod Security level this finding is still compatible with


def _containers(template: Template) -> Iterator[tuple[str, JsonObject]]:
    for field, items in (("containers", template.containers), ("initContainers", template.init_containers)):
        for index, container in enumerate(items):
            yield f"{field}[{index}]", container


def security_findings(
    template: Template, pod_security_context: Mapping[str, Any] | None = None
) -> list[Violation]:
    """Everything in the template that the restricted (or baseline) Pod Security level forbids.

    The level on each finding is the most restrictive level that still admits it. Without
    ``pod_security_context`` the template must stand on its own (how templates are judged when they
    load); with it, a container inherits ``runAsNonRoot`` and ``seccompProfile`` from the pod it is
    injected into, as Pod Security admission evaluates them.
    """
    pod_context = pod_security_context or {}
    findings: list[Violation] = []
    for where, container in _containers(template):
        context = container.get("securityContext") or {}

        def flag(field: str, message: str, level: str, where: str = where) -> None:
            findings.append(Violation(f"{where}.{field}", message, level))

        capabilities = context.get("capabilities") or {}
        added = set(capabilities.get("add") or [])
        # Only inherited settings that help count: a pod's own violations are not the template's.
        seccomp = (context.get("seccompProfile") or {}).get("type") or _confining_seccomp(pod_context)
        run_as_non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot") is True)
        selinux = context.get("seLinuxOptions") or {}
        if context.get("privileged") is True:
            flag("securityContext.privileged", "privileged container", "privileged")
        if added - BASELINE_CAPABILITIES:
            flag("securityContext.capabilities.add", f"adds {', '.join(sorted(added))}", "privileged")
        elif added - {"NET_BIND_SERVICE"}:
            flag("securityContext.capabilities.add", f"adds {', '.join(sorted(added))}", "baseline")
        for port_index, port in enumerate(container.get("ports") or []):
            if port.get("hostPort"):
                flag(f"ports[{port_index}].hostPort", "uses a host port", "privileged")
        if seccomp == "Unconfined":
            flag("securityContext.seccompProfile", "seccomp Unconfined", "privileged")
        elif seccomp not in ("RuntimeDefault", "Localhost"):
            flag("securityContext.seccompProfile", "must be RuntimeDefault or Localhost", "baseline")
        if context.get("procMount") not in (None, "Default"):
            flag("securityContext.procMount", "non-default procMount", "privileged")
        if (context.get("windowsOptions") or {}).get("hostProcess") is True:
            flag("securityContext.windowsOptions.hostProcess", "Windows host process", "privileged")
        if (context.get("appArmorProfile") or {}).get("type") == "Unconfined":
            flag("securityContext.appArmorProfile", "AppArmor Unconfined", "privileged")
        if selinux.get("user") or selinux.get("role") or selinux.get("type", "") not in ALLOWED_SELINUX_TYPES:
            flag("securityContext.seLinuxOptions", "custom SELinux user, role or type", "privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            flag("securityContext.allowPrivilegeEscalation", "must be false", "baseline")
        if run_as_non_root is not True:
            flag("securityContext.runAsNonRoot", "must be true", "baseline")
        if context.get("runAsUser") == 0:
            flag("securityContext.runAsUser", "runs as root", "baseline")
        if "ALL" not in (capabilities.get("drop") or []):
            flag("securityContext.capabilities.drop", "must drop ALL", "baseline")
    for index, volume in enumerate(template.volumes):
        kinds = set(volume) - {"name"}
        if "hostPath" in kinds:
            findings.append(Violation(f"volumes[{index}].hostPath", "hostPath volume", "privileged"))
        elif kinds - RESTRICTED_VOLUME_TYPES:
            kind = ", ".join(sorted(kinds - RESTRICTED_VOLUME_TYPES))
            findings.append(Violation(f"volumes[{index}]", f"{kind} volume", "baseline"))
    for key, value in template.annotations.items():
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            findings.append(Violation(f"annotations[{key}]", f"AppArmor {value}", "privileged"))
    return findings


def _confining_seccomp(pod_context: Mapping[str, Any]) -> str | None:
    profile = pod_context.get("seccompProfile")
    kind = profile.get("type") if isinstance(profile, dict) else None
    return kind if kind in ("RuntimeDefault", "Localhost") else None


def required_level(template: Template, pod_security_context: Mapping[str, Any] | None = None) -> str:
    """The least permissive Pod Security level whose pods may carry this template."""
    return level_of(security_findings(template, pod_security_context))


def level_of(findings: list[Violation]) -> str:
    return min((finding.level for finding in findings), key=LEVELS.index, default="restricted")


def policy_violations(template: Template, policy: TemplateSecurityPolicy) -> list[Violation]:
    """Findings that make ``policy`` reject the template; empty means it may be served."""
    violations = []
    for finding in security_findings(template):
        too_permissive = LEVELS.index(finding.level) < LEVELS.index(policy.maximum_level)
        forbidden = (
            (not policy.allow_privileged and finding.field.endswith(".privileged"))
            or (not policy.allow_host_ports and finding.field.endswith(".hostPort"))
            or (not policy.allow_host_path and finding.field.endswith(".hostPath"))
            or (not policy.allow_added_capabilities and finding.field.endswith(".capabilities.add"))
        )
        if too_permissive or forbidden:
            violations.append(finding)
    if policy.allowed_registries:
        for where, container in _containers(template):
            image = str(container.get("image", ""))
            if not any(image.startswith(prefix.rstrip("/") + "/") for prefix in policy.allowed_registries):
                allowed = ", ".join(policy.allowed_registries)
                violations.append(
                    Violation(f"{where}.image", f"{image!r} is not from {allowed}", "privileged")
                )
    return violations
