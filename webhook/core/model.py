"""Frozen values the engine works with: templates, the request's facts, the policy and the result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from webhook.core.jsontypes import JsonObject, PatchOp
from webhook.core.levels import PodSecurityLevel

DEFAULT_ANNOTATION_PREFIX = "sidecar-injector.io"
LEGACY_ANNOTATION_PREFIX = "initializer.kubernetes.io/"
PodSecurityCheck = Literal["warn", "deny", "off"]
"""What to do when an injection needs a lower Pod Security level than the namespace enforces:
admit with a warning, refuse the object, or do not check."""
POD_SECURITY_CHECKS: tuple[PodSecurityCheck, ...] = get_args(PodSecurityCheck)


@dataclass(frozen=True, slots=True)
class Template:
    """One injectable unit, already validated by the template loader.

    ``namespace`` is None for cluster-wide templates (the injector's own namespace, a folder, or a
    namespace an administrator shared); otherwise only workloads in that namespace may use it.
    """

    name: str
    revision: str
    containers: tuple[JsonObject, ...] = ()
    init_containers: tuple[JsonObject, ...] = ()
    volumes: tuple[JsonObject, ...] = ()
    volume_mounts: tuple[JsonObject, ...] = ()
    env: tuple[JsonObject, ...] = ()
    image_pull_secrets: tuple[JsonObject, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    native_sidecars: bool = False
    namespace: str | None = None
    source: str = ""


TemplateKey = tuple[str | None, str]


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """An immutable snapshot of every loaded template; sources replace it whole, requests read it once."""

    templates: Mapping[TemplateKey, Template] = field(default_factory=dict)
    generation: int = 0

    def resolve(self, name: str, namespace: str) -> Template | None:
        """Cluster-wide templates win, so a tenant cannot shadow an administrator's template."""
        return self.templates.get((None, name)) or self.templates.get((namespace, name))

    def __len__(self) -> int:
        return len(self.templates)


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    """What the AdmissionReview request says about the call, apart from the object itself."""

    uid: str
    operation: str
    kind: str
    namespace: str
    name: str = ""
    dry_run: bool = False
    sub_resource: str = ""
    """``request.subResource`` ("status", "scale", "ephemeralcontainers", ...); empty for the object."""
    pod_security_level: PodSecurityLevel | None = None
    """The Pod Security level the namespace enforces, when known. Not part of the AdmissionReview: the
    server looks it up (namespace labels) and None means unknown, so no Pod Security check is made.
    A level's name is accepted too, and kept as the level (an unknown name is a ValueError)."""

    def __post_init__(self) -> None:
        if self.pod_security_level is not None:
            object.__setattr__(self, "pod_security_level", PodSecurityLevel(self.pod_security_level))


@dataclass(frozen=True, slots=True)
class InjectionPolicy:
    """Administrator choices the engine applies; built once from settings, never read from the environment."""

    annotation_prefix: str = DEFAULT_ANNOTATION_PREFIX
    legacy_annotations: bool = True
    deny_missing_templates: bool = False
    pod_security_check: PodSecurityCheck = "warn"

    def __post_init__(self) -> None:
        if self.pod_security_check not in POD_SECURITY_CHECKS:
            raise ValueError(f"pod_security_check must be one of {', '.join(POD_SECURITY_CHECKS)}")

    @property
    def inject_annotation(self) -> str:
        return f"{self.annotation_prefix}/inject"

    @property
    def status_annotation(self) -> str:
        return f"{self.annotation_prefix}/status"


@dataclass(frozen=True, slots=True)
class MutationResult:
    """The engine's answer: ops to apply (possibly none), warnings for kubectl, and why nothing was done."""

    patch: tuple[PatchOp, ...] = ()
    warnings: tuple[str, ...] = ()
    injected: tuple[str, ...] = ()
    revisions: tuple[str, ...] = ()
    """The revision of each template in ``injected``, in the same order."""
    skip_reason: str | None = None
    pod_security_gaps: tuple[str, ...] = ()
    """Templates injected although they need a lower Pod Security level than the namespace enforces."""
    patched: JsonObject | None = None
    """The object with the patch applied, as ``verify_patch`` checked it (None without a patch, or
    when verification was off). Unchanged parts are shared with the input object, not copied."""
