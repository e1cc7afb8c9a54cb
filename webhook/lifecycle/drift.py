"""The drift report: per workload and per bare Pod, each template it runs or asks for, the revisions
running, the revision served now, and the state (``current``, ``outdated``, ``missing-injection``,
``template-gone``), decided by ``webhook.core.lifecycle``; printed as a table, JSON or YAML.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from webhook.core.lifecycle import STATES, State, TemplateState, pod_states, workload_states
from webhook.core.model import InjectionPolicy, TemplateSet
from webhook.lifecycle.inventory import Inventory, Workload

OUTPUT_FORMATS = ("table", "json", "yaml")


@dataclass(frozen=True, slots=True)
class DriftRow:
    namespace: str
    kind: str
    name: str
    template: str
    state: State
    mode: str | None
    running: tuple[str, ...]
    current: str | None
    pods: dict[str, int] = field(default_factory=dict)
    """Pods per state (workloads; empty for a bare Pod)."""


def drift_rows(inventory: Inventory, templates: TemplateSet, policy: InjectionPolicy) -> list[DriftRow]:
    """Every (workload or bare Pod, template) the injector has to do with, sorted."""
    rows = []
    for workload in inventory.workloads.values():
        opt_in = inventory.namespace_metadata(workload.namespace)
        for state in workload_states(_object_of(workload), workload.pods, opt_in, templates, policy):
            rows.append(_row(workload.namespace, workload.kind, workload.name, state))
    for pod in inventory.bare_pods:
        opt_in = inventory.namespace_metadata(pod.namespace)
        for state in pod_states(pod.metadata, pod.namespace, opt_in, templates, policy):
            rows.append(_row(pod.namespace, "Pod", pod.name, state))
    return sorted(rows, key=lambda r: (r.namespace, r.kind, r.name, r.template))


def _object_of(workload: Workload) -> dict[str, Any]:
    """The workload, or a stand-in without a pod template for a controller that was not listed."""
    if workload.obj is not None:
        return workload.obj
    return {"kind": workload.kind, "metadata": {"namespace": workload.namespace, "name": workload.name}}


def _row(namespace: str, kind: str, name: str, state: TemplateState) -> DriftRow:
    pods = {str(s): n for s, n in state.pods.items()}
    return DriftRow(
        namespace, kind, name, state.template, state.state, state.mode, state.running, state.current, pods
    )


def summary(rows: Iterable[DriftRow]) -> dict[str, int]:
    counts = Counter(row.state for row in rows)
    return {state: counts[state] for state in STATES if counts[state]}


def as_data(rows: Sequence[DriftRow]) -> dict[str, Any]:
    items = [
        {
            "namespace": r.namespace,
            "kind": r.kind,
            "name": r.name,
            "template": r.template,
            "mode": r.mode,
            "state": r.state,
            "running": list(r.running),
            "current": r.current,
            **({"pods": dict(r.pods)} if r.kind != "Pod" else {}),
        }
        for r in rows
    ]
    return {"items": items, "summary": summary(rows)}


def render(rows: Sequence[DriftRow], output: str) -> str:
    if output == "json":
        return json.dumps(as_data(rows), indent=2) + "\n"
    if output == "yaml":
        return str(yaml.safe_dump(as_data(rows), sort_keys=False))
    return render_table(rows)


def render_table(rows: Sequence[DriftRow]) -> str:
    if not rows:
        return "No workload or Pod asks for a template or runs one.\n"
    header = ("NAMESPACE", "WORKLOAD", "TEMPLATE", "MODE", "STATE", "RUNNING", "CURRENT", "PODS")
    lines = [header]
    for r in rows:
        running = ",".join(r.running) or "-"
        lines.append(
            (
                r.namespace,
                f"{r.kind}/{r.name}",
                r.template,
                r.mode or "-",
                r.state,
                running,
                r.current or "-",
                _pods(r),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    counts = ", ".join(f"{n} {state}" for state, n in summary(rows).items())
    return "\n".join(text) + f"\n\n{len(rows)} row(s): {counts}\n"


def _pods(row: DriftRow) -> str:
    if row.kind == "Pod":
        return "-"
    if not row.pods:
        return "0"
    return " ".join(f"{n} {state}" for state, n in row.pods.items())
