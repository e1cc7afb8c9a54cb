"""Where each template lands: in the workload's pod template, or in its Pods when they are created.

Workload injection writes the template into a Deployment's (StatefulSet's, ...) pod template, as the
Initializer did. Pod injection leaves the workload's spec as written and injects each Pod when it is
created, so a restart picks up a new revision and GitOps tools see no drift. A Pod is always injected
whatever the mode: it is where pod injection lands, and the safety net for a workload that was
created while the webhook was down.

In pod injection a workload that opted in on its own metadata gets only that opt-in copied into its
pod template's ``inject`` annotation (its Pods never see the workload's metadata); one that opted in
on its pod template is not patched at all. The copy is recorded in the status annotation (``copied``)
so that uninject can take it back.
"""

from __future__ import annotations

from collections.abc import Iterable

from webhook.core.model import InjectionPolicy, Template
from webhook.core.patching import PatchBuilder, Tokens
from webhook.core.selection import requested_names

IN_PODS = "pod-injection"
"""Skip reason of a workload whose requested templates are all injected into its Pods instead."""


def split_by_mode(
    templates: Iterable[Template], kind: str, policy: InjectionPolicy
) -> tuple[list[Template], list[Template]]:
    """(templates injected into this object, templates left to its Pods), each in order."""
    here: list[Template] = []
    in_pods: list[Template] = []
    for template in templates:
        if kind != "Pod" and policy.mode_of(template) == "pod":
            in_pods.append(template)
        else:
            here.append(template)
    return here, in_pods


def copy_opt_in(
    builder: PatchBuilder, root: Tokens, names: list[str], policy: InjectionPolicy
) -> tuple[tuple[str, str | None], ...]:
    """Add ``names`` to the pod template's inject annotation; returns (key, value before) when it
    changed, for the status annotation. Names already listed there are not added again, so a second
    admission changes nothing."""
    target = (*root, "metadata", "annotations")
    key = policy.inject_annotation
    annotations = builder.lookup(target)
    current = annotations.get(key) if isinstance(annotations, dict) else None
    before = current if isinstance(current, str) else None
    listed = requested_names({key: before}, policy) if before is not None else []
    missing = [name for name in dict.fromkeys(names) if name not in listed]
    if not missing:
        return ()
    # An opt-out value ("false", "none", "") requests nothing, so it is replaced rather than extended.
    value = ", ".join([*listed, *missing])
    builder.put(target, key, value)
    return ((key, before),)
