"""An Explanation as data for ``-o json`` and as the short human report; nothing decided here."""

from __future__ import annotations

from typing import Any

from webhook.core.status import Added
from webhook.explain.report import KEEPS_LAST_GOOD, Explanation, TemplateLoad

_LISTS = (
    ("containers", "containers"),
    ("initContainers", "init containers"),
    ("volumes", "volumes"),
    ("imagePullSecrets", "image pull secrets"),
    ("annotations", "annotations"),
    ("labels", "labels"),
)
_PER_CONTAINER = (("env", "env"), ("volumeMounts", "mounts"))


def as_data(report: Explanation) -> dict[str, Any]:
    opt_in = report.opt_in
    data: dict[str, Any] = {
        "object": {"kind": report.kind, "namespace": report.namespace, "name": report.name},
        "live": report.live,
        "optIn": None,
        "templates": [_load_data(load) for load in report.templates],
        "added": {name: _added_data(added) for name, added in report.added},
        "inPods": list(report.in_pods),
        "warnings": list(report.warnings),
        "verdict": {
            "outcome": report.verdict.outcome,
            "reason": report.verdict.reason,
            "message": report.verdict.message,
        },
        "exitCode": report.exit_code,
    }
    if opt_in is not None:
        decider = opt_in.decided_by
        data["optIn"] = {
            "result": "opted-in" if opt_in.opted_in else "opted-out" if opt_in.opted_out else "no signal",
            "templates": list(opt_in.templates),
            "decidedBy": decider.source.value if decider else None,
            "signals": [
                {
                    "source": signal.source.value,
                    "written": signal.written,
                    "templates": list(signal.templates),
                    "optsOut": signal.opts_out,
                    "decides": index == 0,
                }
                for index, signal in enumerate(opt_in.signals)
            ],
            "disagreements": list(opt_in.disagreements()),
        }
    if report.states is not None:
        data["status"] = [
            {
                "template": state.template,
                "state": _state(report, state.template, state.state),
                "running": list(state.running),
                "current": state.current,
            }
            for state in report.states
        ]
    return data


def _load_data(load: TemplateLoad) -> dict[str, Any]:
    data: dict[str, Any] = {"name": load.name, "status": load.status, "source": load.source}
    data["revision"] = load.revision
    if load.status == "rejected":
        data["problems"] = list(load.problems)
        data["note"] = KEEPS_LAST_GOOD
    return data


def _added_data(added: Added | None) -> dict[str, Any] | None:
    if added is None:
        return None
    data: dict[str, Any] = {field: list(added.names(field)) for field, _ in _LISTS}
    for field, _ in _PER_CONTAINER:
        data[field] = {container: list(items) for container, items in added.per_container(field)}
    return data


def _state(report: Explanation, template: str, state: str) -> str:
    rejected = any(t.name == template and t.status == "rejected" for t in report.templates)
    return "unknown (template rejected)" if rejected else state


def as_text(report: Explanation) -> str:
    verdict = report.verdict
    where = f"{report.namespace}/{report.name}" if report.namespace else report.name
    lines = [f"{report.kind} {where}: {verdict.outcome} (reason: {verdict.reason})"]
    if verdict.message:
        lines.append(f"  {verdict.message}")
    lines += _opt_in_lines(report)
    if report.templates:
        lines.append("  templates:")
        for load in report.templates:
            lines += _load_lines(load)
    lines += _added_lines(report)
    if report.in_pods:
        lines.append(f"  injected into its Pods when they are created: {', '.join(report.in_pods)}")
    if report.warnings:
        lines.append("  warnings (what is skipped, and why):")
        lines += [f"    {warning}" for warning in report.warnings]
    if report.states is not None:
        lines.append("  status against the current templates:")
        lines += _state_lines(report)
    return "\n".join(lines) + "\n"


def _opt_in_lines(report: Explanation) -> list[str]:
    opt_in = report.opt_in
    if opt_in is None:
        return ["  opt-in: unreadable (see the reason)"]
    if not opt_in.signals:
        return ["  opt-in: no signal on the object, its pod template or its namespace"]
    lines = ["  opt-in signals (highest precedence first; the first decides):"]
    for index, signal in enumerate(opt_in.signals):
        answer = ", ".join(signal.templates) if signal.templates else "opt out"
        mark = "decides" if index == 0 else "overridden"
        lines.append(f"    {signal.source.value}: {signal.written} -> {answer} ({mark})")
    return lines


def _load_lines(load: TemplateLoad) -> list[str]:
    if load.status == "not-found":
        return [f"    {load.name}: not found"]
    if load.status == "loaded":
        return [f"    {load.name}: loaded, revision {load.revision}, from {load.source}"]
    lines = [f"    {load.name}: {KEEPS_LAST_GOOD}; from {load.source}"]
    lines += [f"      {problem}" for problem in load.problems]
    return [*lines, "      (explain cannot see that revision: the verdict is computed without it)"]


def _added_lines(report: Explanation) -> list[str]:
    if not report.added:
        return []
    injected = report.verdict.outcome == "injected"
    lines = ["  adds:" if injected else "  added (as its status records):"]
    for name, added in report.added:
        if added is None:
            lines.append(f"    {name}: not recorded")
            continue
        parts = [f"{label} {', '.join(added.names(field))}" for field, label in _LISTS if added.names(field)]
        for field, label in _PER_CONTAINER:
            parts += [f"{label} in {c}: {', '.join(items)}" for c, items in added.per_container(field)]
        lines.append(f"    {name}: {'; '.join(parts) or 'nothing'}")
    return lines


def _state_lines(report: Explanation) -> list[str]:
    if not report.states:
        return ["    nothing injected, no served template asked for"]
    lines = []
    for state in report.states:
        running = ", ".join(state.running) or "none"
        current = state.current or "none"
        shown = _state(report, state.template, state.state)
        lines.append(f"    {state.template}: {shown} (running {running}, current {current})")
    return lines
