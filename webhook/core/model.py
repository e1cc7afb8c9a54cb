"""Frozen values the engine works with: templates, the request's facts, the policy and the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from webhook.core.jsontypes import JsonObject, PatchOp
from webhook.core.levels import PodSecurityLevel, require_level
from webhook.core.render import NO_VARIABLES, Variables

DEFAULT_ANNOTATION_PREFIX = "sidecar-injector.io"
LEGACY_ANNOTATION_PREFIX = "initializer.kubernetes.io/"
PodSecurityCheck = Literal["warn", "deny", "off"]
"""What to do when an injection needs a lower Pod Security level than the namespace enforces:
admit with a warning, refuse the object, or do not check."""
POD_SECURITY_CHECKS: tuple[PodSecurityCheck, ...] = get_args(PodSecurityCheck)
InjectionMode = Literal["workload", "pod"]
"""Where a template lands: in a workload's pod template (workload injection), or only in its Pods
when they are created (pod injection; the workload gets at most its opt-in copied)."""
INJECTION_MODES: tuple[InjectionMode, ...] = get_args(InjectionMode)
UpdatePolicy = Literal["manual", "rolling"]
"""Whether the server brings running workloads to a template's new revision by itself (rolling, one
elected replica) or leaves that to ``sidecar-injector rollout`` (manual)."""
UPDATE_POLICIES: tuple[UpdatePolicy, ...] = get_args(UpdatePolicy)
OVERRIDABLE_FIELDS = ("resources", "image", "imagePullPolicy", "command", "args", "env")
"""The container fields a template may let workloads override (``overridable``)."""
DEFAULT_OVERRIDABLE = frozenset({"resources"})


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
    injection: InjectionMode | None = None
    """None: the server's default (``InjectionPolicy.injection_mode``)."""
    update_policy: UpdatePolicy | None = None
    """None: the server's default (``InjectionPolicy.update_policy``)."""
    target_containers: tuple[str, ...] | None = None
    """The app containers that get ``volume_mounts`` and ``env`` (None: every one); a workload's
    ``target-containers`` annotation replaces it."""
    init_containers_first: bool = False
    """Init containers (and native sidecars) go before the workload's own init containers."""
    overridable: frozenset[str] = DEFAULT_OVERRIDABLE
    """Container fields a workload may override with the ``overrides`` annotation."""
    variables: Variables = NO_VARIABLES
    """Where the template's strings reference the workload (parsed once, at load); empty (false)
    for a template without variables, which is then injected as it is."""


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
class NamespaceMetadata:
    """What the injector knows of a namespace: the labels and annotations it reads (opt-in, Pod
    Security), never the whole object."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, init=False)
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
    A PodSecurityLevel, never its name (a name is a TypeError: it would not order against levels)."""
    namespace_metadata: NamespaceMetadata | None = None
    """The namespace's labels and annotations, when known (the server's namespace watch, or a
    Namespace object in ``inject``'s input); None means unknown: no namespace opt-in applies."""

    def __init__(
        self,
        uid: str,
        operation: str,
        kind: str,
        namespace: str,
        name: str = "",
        dry_run: bool = False,
        sub_resource: str = "",
        pod_security_level: PodSecurityLevel | None = None,
        namespace_metadata: NamespaceMetadata | None = None,
    ) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        if pod_security_level is not None:
            require_level(pod_security_level, "pod_security_level")
        object.__setattr__(self, "uid", uid)
        object.__setattr__(self, "operation", operation)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dry_run", dry_run)
        object.__setattr__(self, "sub_resource", sub_resource)
        object.__setattr__(self, "pod_security_level", pod_security_level)
        object.__setattr__(self, "namespace_metadata", namespace_metadata)


@dataclass(frozen=True, slots=True)
class WorkloadReaders:
    """What the core needs from the edges to read a workload's overrides: it imports no YAML or
    schema library, so the edges hand these in (``webhook.templates.workload_checks``)."""

    parse: Callable[[str], object]
    """YAML or JSON text, bounded in size and nesting, to data; raises ValueError saying why."""
    check_container: Callable[[JsonObject, str, Mapping[str, JsonObject]], tuple[str, ...]]
    """The problems of a container (kind ``container``, ``init`` or ``sidecar``; the template's
    volumes by name), as the template loader reports them; empty when it is valid."""


class AcceptedAnnotations(Protocol):
    """Another injector's opt-in annotations read as a request for our templates (``serve
    --accept-annotations``); implemented at the edges (``webhook.convert.accept``)."""

    def read(
        self, annotations: Mapping[str, str], labels: Mapping[str, str]
    ) -> tuple[str, tuple[str, ...]] | None:
        """(the annotations as written, our template names) for a pod's metadata; None: no request."""
        ...


@dataclass(frozen=True, slots=True)
class InjectionPolicy:
    """Administrator choices the engine applies; built once from settings, never read from the environment."""

    annotation_prefix: str = DEFAULT_ANNOTATION_PREFIX
    legacy_annotations: bool = True
    deny_missing_templates: bool = False
    pod_security_check: PodSecurityCheck = "warn"
    injection_mode: InjectionMode = "workload"
    """For templates that do not choose: workload injection, the Initializer's behaviour, so that an
    upgrade changes nothing for running workloads (docs/design.md, "Where the injection lands")."""
    update_policy: UpdatePolicy = "manual"
    namespace_opt_in: bool = True
    """Namespaces opt in by label or annotation (the server then watches them)."""
    readers: WorkloadReaders | None = None
    """Set by the composition root; without it, a workload's overrides are refused."""
    accepted_annotations: tuple[AcceptedAnnotations, ...] = ()
    """Other injectors' opt-in annotations that count as ours, on a pod or a pod template only."""
    # Our annotation keys, read several times per review: built once from the prefix.
    inject_annotation: str = field(init=False, repr=False, compare=False)
    status_annotation: str = field(init=False, repr=False, compare=False)
    target_containers_annotation: str = field(init=False, repr=False, compare=False)
    overrides_annotation: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pod_security_check not in POD_SECURITY_CHECKS:
            raise ValueError(f"pod_security_check must be one of {', '.join(POD_SECURITY_CHECKS)}")
        if self.injection_mode not in INJECTION_MODES:
            raise ValueError(f"injection_mode must be one of {', '.join(INJECTION_MODES)}")
        if self.update_policy not in UPDATE_POLICIES:
            raise ValueError(f"update_policy must be one of {', '.join(UPDATE_POLICIES)}")
        prefix = self.annotation_prefix
        object.__setattr__(self, "inject_annotation", f"{prefix}/inject")
        object.__setattr__(self, "status_annotation", f"{prefix}/status")
        object.__setattr__(self, "target_containers_annotation", f"{prefix}/target-containers")
        object.__setattr__(self, "overrides_annotation", f"{prefix}/overrides")

    def mode_of(self, template: Template) -> InjectionMode:
        return template.injection or self.injection_mode

    def update_policy_of(self, template: Template) -> UpdatePolicy:
        return template.update_policy or self.update_policy


@dataclass(frozen=True, slots=True, init=False)
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
    in_pods: tuple[str, ...] = ()
    """Templates in pod injection that a workload asked for: injected into its Pods when they are
    created, not into the workload (which gets at most its opt-in copied to its pod template)."""

    def __init__(
        self,
        patch: tuple[PatchOp, ...] = (),
        warnings: tuple[str, ...] = (),
        injected: tuple[str, ...] = (),
        revisions: tuple[str, ...] = (),
        skip_reason: str | None = None,
        pod_security_gaps: tuple[str, ...] = (),
        patched: JsonObject | None = None,
        in_pods: tuple[str, ...] = (),
    ) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "patch", patch)
        object.__setattr__(self, "warnings", warnings)
        object.__setattr__(self, "injected", injected)
        object.__setattr__(self, "revisions", revisions)
        object.__setattr__(self, "skip_reason", skip_reason)
        object.__setattr__(self, "pod_security_gaps", pod_security_gaps)
        object.__setattr__(self, "patched", patched)
        object.__setattr__(self, "in_pods", in_pods)
