"""What the Pod Security Standards (v1.x) forbid in a template, as a table of rules with stable ids.

Each container rule reads one container, with what it inherits from the pod already resolved, and
yields findings; the volume and annotation rules read the template. A finding names its rule, the
field it is about, and the most restrictive level that still admits it. Policies match on the rule
id (``TemplateSecurityPolicy``), never on the field path, so renaming a path cannot switch a
policy flag off. The table keeps the order findings are reported in (warnings list them).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.jsontypes import JsonObject
from webhook.core.levels import PodSecurityLevel
from webhook.core.model import Template

PRIVILEGED, BASELINE = PodSecurityLevel.PRIVILEGED, PodSecurityLevel.BASELINE

# Capabilities the baseline level lets a container add.
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
# Baseline's SELinux types (container_engine_t since Kubernetes 1.31).
ALLOWED_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
CONFINING_SECCOMP = ("RuntimeDefault", "Localhost")


class Rule(enum.StrEnum):
    """Stable ids of the rules, for policies, logs and tests."""

    PRIVILEGED = "privileged"
    ADDED_CAPABILITIES = "added-capabilities"
    HOST_PORTS = "host-ports"
    SECCOMP = "seccomp"
    PROC_MOUNT = "proc-mount"
    WINDOWS_HOST_PROCESS = "windows-host-process"
    APPARMOR = "apparmor"
    SELINUX = "selinux"
    PRIVILEGE_ESCALATION = "privilege-escalation"
    RUN_AS_NON_ROOT = "run-as-non-root"
    RUN_AS_ROOT = "run-as-root"
    DROP_CAPABILITIES = "drop-capabilities"
    HOST_PATH = "host-path"
    VOLUME_TYPES = "volume-types"
    REGISTRY = "registry"
    """Not a Pod Security rule: an image from outside the administrator's allowed registries."""


@dataclass(frozen=True, slots=True)
class Violation:
    rule: Rule
    field: str
    message: str
    level: PodSecurityLevel
    """The most restrictive Pod Security level this finding is still compatible with."""


@dataclass(frozen=True, slots=True)
class ContainerView:
    """One container as the rules read it. Only inherited settings that help count: a pod's own
    violations are not the template's."""

    context: Mapping[str, Any]
    ports: list[Any]
    capabilities: Mapping[str, Any]
    seccomp: Any
    run_as_non_root: Any

    @classmethod
    def of(cls, container: JsonObject, pod_context: Mapping[str, Any]) -> ContainerView:
        context = container.get("securityContext") or {}
        return cls(
            context=context,
            ports=container.get("ports") or [],
            capabilities=context.get("capabilities") or {},
            seccomp=(context.get("seccompProfile") or {}).get("type") or _confining_seccomp(pod_context),
            run_as_non_root=context.get("runAsNonRoot", pod_context.get("runAsNonRoot") is True),
        )

    @property
    def added(self) -> set[str]:
        return set(self.capabilities.get("add") or [])

    def setting(self, *path: str) -> object:
        """The securityContext value at ``path``; None when a step is missing."""
        node: object = self.context
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        return node


Finding = tuple[str, str, PodSecurityLevel]
"""(field below the container, message, level)."""
ContainerCheck = Callable[[ContainerView], Iterator[Finding]]


def _when(
    applies: Callable[[ContainerView], bool], field: str, message: str, level: PodSecurityLevel
) -> ContainerCheck:
    """A rule with one fixed finding, made when ``applies``."""

    def check(container: ContainerView) -> Iterator[Finding]:
        if applies(container):
            yield field, message, level

    return check


def _added_capabilities(container: ContainerView) -> Iterator[Finding]:
    added = container.added
    if added - BASELINE_CAPABILITIES:
        yield "securityContext.capabilities.add", f"adds {', '.join(sorted(added))}", PRIVILEGED
    elif added - {"NET_BIND_SERVICE"}:
        yield "securityContext.capabilities.add", f"adds {', '.join(sorted(added))}", BASELINE


def _host_ports(container: ContainerView) -> Iterator[Finding]:
    for index, port in enumerate(container.ports):
        if port.get("hostPort"):
            yield f"ports[{index}].hostPort", "uses a host port", PRIVILEGED


def _seccomp(container: ContainerView) -> Iterator[Finding]:
    if container.seccomp == "Unconfined":
        yield "securityContext.seccompProfile", "seccomp Unconfined", PRIVILEGED
    elif container.seccomp not in CONFINING_SECCOMP:
        yield "securityContext.seccompProfile", "must be RuntimeDefault or Localhost", BASELINE


def _custom_selinux(container: ContainerView) -> bool:
    selinux = container.context.get("seLinuxOptions") or {}
    custom_type = selinux.get("type", "") not in ALLOWED_SELINUX_TYPES
    return bool(selinux.get("user") or selinux.get("role")) or custom_type


CONTAINER_RULES: tuple[tuple[Rule, ContainerCheck], ...] = (
    (
        Rule.PRIVILEGED,
        _when(
            lambda c: c.setting("privileged") is True,
            "securityContext.privileged",
            "privileged container",
            PRIVILEGED,
        ),
    ),
    (Rule.ADDED_CAPABILITIES, _added_capabilities),
    (Rule.HOST_PORTS, _host_ports),
    (Rule.SECCOMP, _seccomp),
    (
        Rule.PROC_MOUNT,
        _when(
            lambda c: c.setting("procMount") not in (None, "Default"),
            "securityContext.procMount",
            "non-default procMount",
            PRIVILEGED,
        ),
    ),
    (
        Rule.WINDOWS_HOST_PROCESS,
        _when(
            lambda c: c.setting("windowsOptions", "hostProcess") is True,
            "securityContext.windowsOptions.hostProcess",
            "Windows host process",
            PRIVILEGED,
        ),
    ),
    (
        Rule.APPARMOR,
        _when(
            lambda c: c.setting("appArmorProfile", "type") == "Unconfined",
            "securityContext.appArmorProfile",
            "AppArmor Unconfined",
            PRIVILEGED,
        ),
    ),
    (
        Rule.SELINUX,
        _when(
            _custom_selinux, "securityContext.seLinuxOptions", "custom SELinux user, role or type", PRIVILEGED
        ),
    ),
    (
        Rule.PRIVILEGE_ESCALATION,
        _when(
            lambda c: c.setting("allowPrivilegeEscalation") is not False,
            "securityContext.allowPrivilegeEscalation",
            "must be false",
            BASELINE,
        ),
    ),
    (
        Rule.RUN_AS_NON_ROOT,
        _when(
            lambda c: c.run_as_non_root is not True, "securityContext.runAsNonRoot", "must be true", BASELINE
        ),
    ),
    (
        Rule.RUN_AS_ROOT,
        _when(lambda c: c.setting("runAsUser") == 0, "securityContext.runAsUser", "runs as root", BASELINE),
    ),
    (
        Rule.DROP_CAPABILITIES,
        _when(
            lambda c: "ALL" not in (c.capabilities.get("drop") or []),
            "securityContext.capabilities.drop",
            "must drop ALL",
            BASELINE,
        ),
    ),
)


def containers_of(template: Template) -> Iterator[tuple[str, JsonObject]]:
    """Each container of the template with its field path (``containers[0]``)."""
    for field, items in (("containers", template.containers), ("initContainers", template.init_containers)):
        for index, container in enumerate(items):
            yield f"{field}[{index}]", container


def security_findings(
    template: Template, pod_security_context: Mapping[str, Any] | None = None
) -> list[Violation]:
    """Everything in the template that the restricted (or baseline) Pod Security level forbids.

    Without ``pod_security_context`` the template must stand on its own (how templates are judged
    when they load); with it, a container inherits ``runAsNonRoot`` and ``seccompProfile`` from the
    pod it is injected into, as Pod Security admission evaluates them.
    """
    pod_context = pod_security_context or {}
    findings: list[Violation] = []
    for where, container in containers_of(template):
        view = ContainerView.of(container, pod_context)
        for rule, check in CONTAINER_RULES:
            findings.extend(
                Violation(rule, f"{where}.{field}", text, level) for field, text, level in check(view)
            )
    findings.extend(_volume_findings(template))
    findings.extend(_annotation_findings(template))
    return findings


def _volume_findings(template: Template) -> Iterator[Violation]:
    for index, volume in enumerate(template.volumes):
        kinds = set(volume) - {"name"}
        if "hostPath" in kinds:
            yield Violation(Rule.HOST_PATH, f"volumes[{index}].hostPath", "hostPath volume", PRIVILEGED)
        elif kinds - RESTRICTED_VOLUME_TYPES:
            kind = ", ".join(sorted(kinds - RESTRICTED_VOLUME_TYPES))
            yield Violation(Rule.VOLUME_TYPES, f"volumes[{index}]", f"{kind} volume", BASELINE)


def _annotation_findings(template: Template) -> Iterator[Violation]:
    for key, value in template.annotations.items():
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            yield Violation(Rule.APPARMOR, f"annotations[{key}]", f"AppArmor {value}", PRIVILEGED)


def _confining_seccomp(pod_context: Mapping[str, Any]) -> str | None:
    profile = pod_context.get("seccompProfile")
    kind = profile.get("type") if isinstance(profile, dict) else None
    return kind if kind in CONFINING_SECCOMP else None
