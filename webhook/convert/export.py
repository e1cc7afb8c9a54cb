"""export_policies(): each template as a MutatingAdmissionPolicy and its binding (admissionregistration
.k8s.io/v1, Kubernetes 1.36+), or the reason it cannot be one.

Pure: templates and the policy in, objects and messages out; ``webhook.cli.export`` reads the folder
and prints. What the API server cannot do for a template is either a refusal (the policy would
inject something else than the webhook) or a loss (the injection is the same, a check or a warning
around it is not), and each is said, in the output and on stderr: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from webhook.convert import policy_match, policy_mutations
from webhook.core import InjectionPolicy
from webhook.core.model import DEFAULT_OVERRIDABLE, Template

API_VERSION = "admissionregistration.k8s.io/v1"
KUBERNETES_VERSIONS = ("1.36", "1.37")
"""Where admissionregistration.k8s.io/v1 MutatingAdmissionPolicy exists (GA in 1.36)."""
EXCLUDED_NAMESPACES = ("kube-system",)
"""As the chart's webhook: the control plane's own pods are never mutated."""

LOSSES = (
    "no Pod Security check: a sidecar that breaks the namespace's enforced level is injected "
    "without the webhook's warning or denial",
    "no warnings: a volume, env or mount the workload already has is kept silently",
    "the workload's overrides and target-containers annotations are not read",
    "templates requested together are injected in the API server's order of policies, not in the "
    "order of the annotation (and the status annotation records the maps and lists they created in "
    "that order), and a container name two of them share is not detected",
    "the status annotation never lists wasNull: the API server drops a null list before a policy "
    "(or the webhook behind it) sees it, so only an object injected offline can have one",
)
POD_INJECTION_LOSS = (
    "pod injection: a workload that opted in on its own metadata gets the template appended to its "
    "pod template's inject annotation as written; names there that the workload's own opt-in "
    "overrode are not taken out"
)
APP_CONTAINER_LOSS = (
    f"env and volumeMounts reach the first {policy_mutations.MAX_APP_CONTAINERS} app containers only, "
    "and mount paths are compared as written (the webhook compares them normalised)"
)


@dataclass(frozen=True, slots=True)
class ExportedTemplate:
    """One template's policy and binding, and what they do not do that the webhook does."""

    name: str
    source: str
    objects: tuple[dict[str, Any], ...]
    losses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    name: str
    source: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExportResult:
    exported: tuple[ExportedTemplate, ...] = ()
    refused: tuple[Refusal, ...] = field(default=())


def export_policies(templates: Iterable[Template], policy: InjectionPolicy) -> ExportResult:
    exported, refused = [], []
    for template in sorted(templates, key=lambda t: (t.namespace or "", t.name)):
        reasons = refusals(template)
        if reasons:
            refused.append(Refusal(template.name, template.source, tuple(reasons)))
        else:
            exported.append(export_template(template, policy))
    return ExportResult(tuple(exported), tuple(refused))


def refusals(template: Template) -> list[str]:
    """Why a policy would inject something other than the webhook for this template."""
    reasons = []
    if template.variables:
        reasons.append(
            "its strings read the workload ($[...] variables), rendered by the webhook at admission; "
            "the export does not translate them to CEL"
        )
    if template.overridable - DEFAULT_OVERRIDABLE:
        fields = ", ".join(sorted(template.overridable))
        reasons.append(
            f"workloads may override {fields} of its containers (overridable), which a policy cannot read"
        )
    return reasons


def export_template(template: Template, policy: InjectionPolicy) -> ExportedTemplate:
    name = policy_name(template)
    losses = list(LOSSES)
    if template.env or template.volume_mounts:
        losses.append(APP_CONTAINER_LOSS)
    if policy.mode_of(template) == "pod":
        losses.append(POD_INJECTION_LOSS)
    spec: dict[str, Any] = {
        "failurePolicy": "Ignore",
        "reinvocationPolicy": "IfNeeded",
        "matchConstraints": {
            "resourceRules": policy_match.resource_rules(),
            "namespaceSelector": _namespaces(template),
        },
        "matchConditions": policy_match.match_conditions(template, policy),
        "variables": policy_mutations.variables(template, policy),
        "mutations": [
            {"patchType": "JSONPatch", "jsonPatch": {"expression": expression}}
            for expression in policy_mutations.mutations(template, policy)
        ],
    }
    labels = {
        "app.kubernetes.io/managed-by": "sidecar-injector",
        f"{policy.annotation_prefix}/template": name,
    }
    annotations = {f"{policy.annotation_prefix}/revision": template.revision}
    metadata = {"name": name, "labels": labels, "annotations": annotations}
    mutating = {
        "apiVersion": API_VERSION,
        "kind": "MutatingAdmissionPolicy",
        "metadata": metadata,
        "spec": spec,
    }
    binding = {
        "apiVersion": API_VERSION,
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": labels},
        "spec": {"policyName": name},
    }
    return ExportedTemplate(template.name, template.source, (mutating, binding), tuple(losses))


def policy_name(template: Template) -> str:
    """Cluster-scoped, so a namespace's template carries its namespace in the name."""
    base = f"sidecar-injector-{template.name}"
    return f"{base}.{template.namespace}" if template.namespace else base


def _namespaces(template: Template) -> dict[str, Any]:
    if template.namespace is not None:
        return {"matchLabels": {"kubernetes.io/metadata.name": template.namespace}}
    return {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": list(EXCLUDED_NAMESPACES)}
        ]
    }
