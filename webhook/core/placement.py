"""Where each template lands: in the workload's pod template, or in its Pods when they are created.

Workload injection writes the template into a Deployment's (StatefulSet's, ...) pod template, as the
Initializer did. Pod injection leaves the workload's spec as written and injects each Pod when it is
created, so a restart picks up a new revision and GitOps tools see no drift. A Pod is always injected
whatever the mode: it is where pod injection lands, and the safety net for a workload that was
created while the webhook was down.

In pod injection a workload that opted in on its own metadata gets only that opt-in copied into its
pod template's ``inject`` annotation (its Pods never see the workload's metadata; names there that
the workload's decision overrode are taken out); one that opted in on its pod template is not
patched at all. The copy is recorded in the status annotation (``copied``)
so that uninject can take it back.
"""

from __future__ import annotations

from collections.abc import Iterable

from webhook.core.model import InjectionPolicy, Template
from webhook.core.optin import requested_names
from webhook.core.patching import PatchBuilder, Tokens

IN_PODS = "pod-injection"
"""Skip reason of a workload whose requested templates are all injected into its Pods instead."""


def split_by_mode(
    templates: Iterable[Template], kind: str, policy: InjectionPolicy
) -> tuple[list[Template], list[Template]]:
    """(templates injected into this object, templates left to its Pods), each in order."""
    if kind == "Pod":  # a Pod is always injected, whatever the mode
        return list(templates), []
    here: list[Template] = []
    in_pods: list[Template] = []
    for template in templates:
        if policy.mode_of(template) == "pod":
            in_pods.append(template)
        else:
            here.append(template)
    return here, in_pods


def copy_opt_in(
    builder: PatchBuilder, root: Tokens, names: list[str], decided: tuple[str, ...], policy: InjectionPolicy
) -> tuple[tuple[str, str | None], ...]:
    """Make the pod template's inject annotation ask for ``names`` (the workload's ``decided``
    opt-in, left to its Pods); returns (key, value before) when it changed, for the status
    annotation. A second admission changes nothing."""
    target = (*root, "metadata", "annotations")
    key = policy.inject_annotation
    annotations = builder.lookup(target)
    current = annotations.get(key) if isinstance(annotations, dict) else None
    before = current if isinstance(current, str) else None
    if before is None and not names:
        return ()  # nothing to copy and nothing listed: every Pod, and workloads in workload mode
    listed = requested_names({key: before}, policy) if before is not None else []
    # The workload's own metadata decided (core/optin.py): names the pod template listed that the
    # decision overrode must not reach the Pods, where the pod template's annotation would decide.
    kept = [name for name in listed if name in decided]
    wanted = [*kept, *(name for name in dict.fromkeys(names) if name not in kept)]
    if not names or wanted == listed:
        return ()
    # An opt-out value ("false", "none", "") requests nothing, so it is replaced rather than extended.
    builder.put(target, key, ", ".join(wanted))
    return ((key, before),)
