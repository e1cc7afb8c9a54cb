"""Whether a workload's rollout has finished, as ``kubectl rollout status`` decides it (its
DeploymentStatusViewer, StatefulSetStatusViewer and DaemonSetStatusViewer), from the object alone.

``generation`` is the one our change produced: until the controller has observed it, the status
still describes the previous rollout. A Deployment fails when its Progressing condition says
ProgressDeadlineExceeded; StatefulSets and DaemonSets have no such signal, so only the caller's
timeout ends a stuck one. An OnDelete update strategy never replaces Pods by itself: such a workload
is done as far as a rollout can go (its Pods get the change when deleted), and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Phase = Literal["done", "progressing", "failed"]
RESTARTABLE = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass(frozen=True, slots=True)
class Progress:
    phase: Phase
    message: str


def rollout_progress(kind: str, obj: dict[str, Any], generation: int) -> Progress:
    status = obj.get("status") or {}
    if int(status.get("observedGeneration") or 0) < generation:
        return Progress("progressing", "waiting for the controller to observe the change")
    if kind == "Deployment":
        return _deployment(obj.get("spec") or {}, status)
    if kind == "StatefulSet":
        return _statefulset(obj.get("spec") or {}, status)
    if kind == "DaemonSet":
        return _daemonset(obj.get("spec") or {}, status)
    return Progress("done", f"a {kind} has no rollout to wait for")


def _deployment(spec: dict[str, Any], status: dict[str, Any]) -> Progress:
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return Progress(
                "failed", f"exceeded its progress deadline: {condition.get('message', '')}".rstrip()
            )
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    if updated < wanted:
        return Progress("progressing", f"{updated} of {wanted} new replicas updated")
    if int(status.get("replicas") or 0) > updated:
        return Progress(
            "progressing", f"{int(status['replicas']) - updated} old replicas pending termination"
        )
    available = int(status.get("availableReplicas") or 0)
    if available < updated:
        return Progress("progressing", f"{available} of {updated} updated replicas available")
    return Progress("done", f"{updated} replicas updated and available")


def _statefulset(spec: dict[str, Any], status: dict[str, Any]) -> Progress:
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return Progress("done", "updateStrategy OnDelete: its Pods take the change when they are deleted")
    wanted = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0)
    if ready < wanted:
        return Progress("progressing", f"{ready} of {wanted} Pods ready")
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if partition > 0:
        if updated < wanted - partition:
            return Progress(
                "progressing", f"{updated} of {wanted - partition} Pods above the partition updated"
            )
        return Progress("done", f"partition {partition}: the Pods above it are updated")
    if status.get("updateRevision") != status.get("currentRevision"):
        return Progress("progressing", f"{updated} of {wanted} Pods updated")
    return Progress("done", f"{wanted} Pods at revision {status.get('currentRevision')}")


def _daemonset(spec: dict[str, Any], status: dict[str, Any]) -> Progress:
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        return Progress("done", "updateStrategy OnDelete: its Pods take the change when they are deleted")
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    if updated < desired:
        return Progress("progressing", f"{updated} of {desired} updated Pods scheduled")
    available = int(status.get("numberAvailable") or 0)
    if available < desired:
        return Progress("progressing", f"{available} of {desired} updated Pods available")
    return Progress("done", f"{desired} Pods updated and available")
