"""What a rollout of one template does to each workload that runs it outdated or misses it.

- Pod injection: restart the workload (``kubectl.kubernetes.io/restartedAt`` on its pod template, as
  ``kubectl rollout restart`` writes it), so that its new Pods are injected with the current revision.
- Workload injection: one patch that replaces what the injector added with the current template's
  (``core.lifecycle.upgrade``), which itself rolls the workload out; a workload whose pod template is
  already current but whose Pods are not (an interrupted rollout) is restarted instead.
- A template now in pod injection still written into a workload's pod template (it used to be in
  workload injection): the upgrade patch takes it out, and the Pods get it when they are created.
- A CronJob is patched (workload injection) and never waited for; in pod injection its next Job's
  Pods get the current revision, so there is nothing to do. Bare Pods, stand-alone Jobs and
  ReplicaSets, and controllers of other kinds are listed, never deleted or changed.

The patch is computed from the object as read just before it is sent (``prepare``), so a status
written by the controller in between does not make the guarded patch fail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, TemplateSet
from webhook.core.lifecycle import NEEDS_ROLLOUT, upgrade
from webhook.core.model import NamespaceMetadata
from webhook.core.optin import annotations_of
from webhook.core.selection import read_status
from webhook.core.workloads import locate_pod_template
from webhook.kube.resources import PatchType
from webhook.lifecycle.drift import DriftRow
from webhook.lifecycle.inventory import Inventory
from webhook.lifecycle.progress import RESTARTABLE

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
Action = Literal["restart", "upgrade", "list"]


@dataclass(frozen=True, slots=True)
class Step:
    kind: str
    namespace: str
    name: str
    action: Action
    why: str
    wait: bool = True
    namespace_metadata: NamespaceMetadata | None = None
    """The namespace's opt-in, as the drift report read it: the upgrade decides the opt-in as the
    server would (a workload may be opted in by its namespace alone)."""

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Change:
    patch: Any
    patch_type: PatchType


def plan(
    rows: list[DriftRow], inventory: Inventory, templates: TemplateSet, policy: InjectionPolicy, template: str
) -> list[Step]:
    """The steps for every row of ``template`` that needs a rollout, in the drift report's order."""
    steps = []
    for row in rows:
        if row.template != template or row.state not in NEEDS_ROLLOUT:
            continue
        workload = inventory.workloads.get((row.kind, row.namespace, row.name))
        obj = workload.obj if workload is not None else None
        step = _step(row, obj, templates, policy, inventory.namespace_metadata(row.namespace))
        steps.append(step)
    return steps


def _step(
    row: DriftRow,
    obj: dict[str, Any] | None,
    templates: TemplateSet,
    policy: InjectionPolicy,
    namespace: NamespaceMetadata | None,
) -> Step:
    return replace(_action(row, obj, templates, policy, namespace), namespace_metadata=namespace)


def _action(
    row: DriftRow,
    obj: dict[str, Any] | None,
    templates: TemplateSet,
    policy: InjectionPolicy,
    namespace: NamespaceMetadata | None,
) -> Step:
    where = (row.kind, row.namespace, row.name)
    if row.kind == "Pod":
        return Step(
            *where, "list", "a bare Pod is never deleted: delete it yourself to have it injected again"
        )
    if obj is None or row.kind not in (*RESTARTABLE, "CronJob"):
        return Step(*where, "list", f"a {row.kind} cannot be rolled out: recreate it or delete its Pods")
    in_spec = row.template in _recorded(obj, row.kind, policy)
    if row.kind == "CronJob":
        if row.mode == "pod" and not in_spec:
            return Step(
                *where, "list", "pod injection: its next Job's Pods get the current revision", wait=False
            )
        return Step(*where, "upgrade", "workload injection: patch its job template", wait=False)
    if row.mode == "pod" and not in_spec:
        return Step(*where, "restart", "pod injection: restart so that new Pods are injected")
    if row.mode == "pod":
        return Step(*where, "upgrade", "now in pod injection: take it out of the pod template")
    probe = Step(*where, "upgrade", "", namespace_metadata=namespace)
    change = prepare(probe, obj, templates, policy, row.template)
    if isinstance(change, str):
        return Step(*where, "list", change)
    if change.patch_type == "strategic":
        return Step(*where, "restart", "pod template current, Pods not: restart")
    return Step(*where, "upgrade", "workload injection: replace what the injector added, one patch")


def prepare(
    step: Step, obj: dict[str, Any], templates: TemplateSet, policy: InjectionPolicy, template: str
) -> Change | str:
    """The change ``step`` makes to ``obj`` as it is now; a string says why none can be made."""
    if step.action == "restart":
        return restart()
    facts = AdmissionFacts(
        "rollout", "UPDATE", step.kind, step.namespace, step.name, namespace_metadata=step.namespace_metadata
    )
    try:
        upgraded = upgrade(obj, facts, templates, policy, [template])
    except InjectionError as exc:
        return f"the current template cannot be applied: {exc.message} ({exc.reason})"
    if upgraded.unknown:
        return "its status does not record what the template added, and that revision is not served"
    if not upgraded.patch:
        return restart() if step.kind in RESTARTABLE else "nothing to change"
    return Change(list(upgraded.patch), "json")


def restart(now: datetime | None = None) -> Change:
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    annotations = {RESTARTED_AT: moment}
    return Change({"spec": {"template": {"metadata": {"annotations": annotations}}}}, "strategic")


def _recorded(obj: dict[str, Any], kind: str, policy: InjectionPolicy) -> set[str]:
    node: Any = obj
    for token in locate_pod_template(kind) or ():
        node = node.get(token) if isinstance(node, dict) else None
    status, _ = read_status(annotations_of(node if isinstance(node, dict) else None), policy)
    return set(status.revisions)
