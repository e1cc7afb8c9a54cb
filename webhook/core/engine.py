"""mutate(): the whole injection decision for one object, as pure data in and data out."""

from __future__ import annotations

from webhook.core.errors import InvalidObject, PodSecurityConflict, TemplateNotFound
from webhook.core.jsontypes import JsonObject, JsonValue, PatchOp
from webhook.core.merging import PodTemplateMerger, without_container_collisions
from webhook.core.model import AdmissionFacts, InjectionPolicy, MutationResult, Template, TemplateSet
from webhook.core.mounts import check_volumes_exist
from webhook.core.patching import PatchBuilder, describe
from webhook.core.placement import IN_PODS, copy_opt_in, split_by_mode
from webhook.core.pod_security import PodSecurityGap, pod_security_gaps
from webhook.core.pod_spec import check_pod_spec
from webhook.core.recording import record_status
from webhook.core.selection import Selection, Skip, select_for_object, skip_for_request
from webhook.core.status import Added
from webhook.core.tailoring import tailor, targets
from webhook.core.verification import verify_patch
from webhook.core.workloads import RUN_TO_COMPLETION_KINDS, claim_template_names, locate_pod_template

# The skip reason when every requested template is loaded but names a container the pod already has.
CONTAINER_NAME_TAKEN = "container-name-taken"


def mutate(
    obj: JsonValue,  # any JSON: DELETE and CONNECT may carry none, and a malformed review anything
    facts: AdmissionFacts,
    templates: TemplateSet,
    policy: InjectionPolicy,
    *,
    verify: bool = True,
) -> MutationResult:
    """Decide what to inject into ``obj`` and return the JSON patch that does it.

    Raises an InjectionError subclass when the object must be refused (a malformed opted-in object,
    a missing template when the policy denies those, a template that cannot be applied). ``verify``
    applies the patch to a copy and checks the result, turning any builder bug into an exception
    instead of a broken pod; the result is returned as ``patched``, for callers that want the
    mutated object (``inject``) rather than the patch.
    """
    request_skip = skip_for_request(facts)  # DELETE and CONNECT may carry no object at all
    if request_skip is not None:
        return MutationResult(skip_reason=request_skip.reason)
    if not isinstance(obj, dict):
        raise InvalidObject("object", "expected a JSON object")
    root = locate_pod_template(facts.kind)
    assert root is not None  # skip_for_request skips kinds without a pod template
    pod_template = _walk_dict(obj, root)
    selection = select_for_object(obj, pod_template if pod_template is not None else {}, facts, policy)
    if isinstance(selection, Skip):
        return MutationResult(skip_reason=selection.reason, warnings=selection.warnings)
    if pod_template is None:
        raise InvalidObject(describe(root), "the pod template is missing or not an object")
    check_pod_spec(pod_template, root)
    return _inject(obj, root, pod_template, selection, templates, facts, policy, verify)


def _inject(
    obj: JsonObject,
    root: tuple[str, ...],
    pod_template: JsonObject,
    selection: Selection,
    templates: TemplateSet,
    facts: AdmissionFacts,
    policy: InjectionPolicy,
    verify: bool,
) -> MutationResult:
    """Resolve, tailor, filter and merge the selected templates into an opted-in, well-formed object."""
    warnings = list(selection.warnings)
    found = _resolve(selection.names, templates, facts, policy, warnings)
    if not found:
        return MutationResult(skip_reason=TemplateNotFound.reason, warnings=tuple(warnings))
    earlier = (templates, selection.already_injected)
    found = tailor(found, obj, pod_template, facts, policy, earlier)
    accepted, collisions = without_container_collisions(found, pod_template["spec"])
    warnings.extend(collisions)
    if not accepted:
        return MutationResult(skip_reason=CONTAINER_NAME_TAKEN, warnings=tuple(warnings))
    gaps = _check_pod_security(accepted, pod_template, facts, policy)
    if gaps:
        warnings.extend(_gap_warnings(gaps, facts.kind))
    chosen, target_warnings = targets(accepted, obj, pod_template, policy)
    warnings.extend(target_warnings)
    here, in_pods = split_by_mode(accepted, facts.kind, policy)
    ops = _place(obj, root, pod_template, selection, (here, in_pods), chosen, facts, policy, warnings)
    return MutationResult(
        patch=ops,
        warnings=tuple(warnings),
        injected=tuple([t.name for t in here]),
        revisions=tuple([t.revision for t in here]),
        skip_reason=None if here else IN_PODS,
        pod_security_gaps=tuple([gap.template for gap in gaps]),
        patched=verify_patch(obj, ops, root) if verify and ops else None,
        in_pods=tuple([t.name for t in in_pods]),
    )


def _place(
    obj: JsonObject,
    root: tuple[str, ...],
    pod_template: JsonObject,
    selection: Selection,
    split: tuple[list[Template], list[Template]],
    chosen: dict[str, frozenset[str] | None],
    facts: AdmissionFacts,
    policy: InjectionPolicy,
    warnings: list[str],
) -> tuple[PatchOp, ...]:
    """The ops: templates injected here, the opt-in of those left to the Pods, the status."""
    here, in_pods = split
    if in_pods:  # what the Pods will get is checked (mounts, warnings) where the workload is written
        _merge(obj, root, [*here, *in_pods], chosen, facts, warnings)
    builder, added = _merge(obj, root, here, chosen, facts, [] if in_pods else warnings)
    left_to_pods = [t.name for t in in_pods if t.name in selection.on_object]
    copied = copy_opt_in(builder, root, left_to_pods, selection.on_object, policy)
    if here or copied:
        injected = list(zip(here, added, strict=True))
        warnings += record_status(builder, root, pod_template, selection.already, injected, copied, policy)
    return tuple(builder.ops)


def _resolve(
    names: tuple[str, ...],
    templates: TemplateSet,
    facts: AdmissionFacts,
    policy: InjectionPolicy,
    warnings: list[str],
) -> list[Template]:
    """The requested templates that are loaded; the others raise or add a warning, as the policy says."""
    found: list[Template] = []
    missing: list[str] = []
    for name in names:
        template = templates.resolve(name, facts.namespace)
        if template is None:
            missing.append(name)
        else:
            found.append(template)
    if missing:
        error = TemplateNotFound(tuple(missing), facts.namespace)
        if policy.deny_missing_templates:
            raise error
        warnings.append(f"{error.message}; admitted without them")
    return found


def _merge(
    obj: JsonObject,
    root: tuple[str, ...],
    accepted: list[Template],
    chosen: dict[str, frozenset[str] | None],
    facts: AdmissionFacts,
    warnings: list[str],
) -> tuple[PatchBuilder, list[Added]]:
    """Merge the templates in order, each template's env and mounts into its ``chosen`` app
    containers; returns what each added. Raises VolumeNotFound when a mount they add has no volume."""
    builder = PatchBuilder(obj)
    merger = PodTemplateMerger(builder, root, claim_template_names(facts.kind, obj))
    added = []
    for template in accepted:
        added.append(merger.merge(template, chosen[template.name]))
        if facts.kind in RUN_TO_COMPLETION_KINDS and template.containers and not template.native_sidecars:
            warnings.append(
                f"template {template.name!r} adds regular sidecar containers to a {facts.kind}; its pods "
                "will not complete while they run (use nativeSidecars: true on Kubernetes 1.29+)"
            )
    warnings.extend(merger.warnings)
    check_volumes_exist(merger.added_mounts, merger.volume_names)
    return builder, added


def _check_pod_security(
    found: list[Template], pod_template: JsonObject, facts: AdmissionFacts, policy: InjectionPolicy
) -> list[PodSecurityGap]:
    """The templates (one gap each) that break the namespace's enforced level; raises instead when the
    policy denies those."""
    if facts.pod_security_level is None or policy.pod_security_check == "off":
        return []
    gaps = pod_security_gaps(found, pod_template["spec"], facts.namespace, facts.pod_security_level)
    if gaps and policy.pod_security_check == "deny":
        details = "; ".join(f"{gap.summary} ({gap.fields})" for gap in gaps)
        message = f"{details}: {_rejection(facts.kind)} by Pod Security admission"
        raise PodSecurityConflict(message, tuple(gap.template for gap in gaps))
    return gaps


def _gap_warnings(gaps: list[PodSecurityGap], kind: str) -> list[str]:
    """Two warnings per gap: kube-apiserver cuts warnings at 120 characters, so the summary and the
    fields would not both survive in one."""
    warnings = []
    for gap in gaps:
        warnings.append(f"{gap.summary}: {_rejection(kind)}")
        warnings.append(f"{gap.template!r} breaks {gap.enforced.value!r} at {gap.fields}")
    return warnings


def _rejection(kind: str) -> str:
    return "the pod will be rejected" if kind == "Pod" else "its pods will be rejected"


def _walk_dict(obj: JsonObject, tokens: tuple[str, ...]) -> JsonObject | None:
    node: object = obj
    for token in tokens:
        node = node.get(token) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
