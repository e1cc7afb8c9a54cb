"""Minimal valid objects for tests, as a client would write them (the fake adds the rest)."""

from __future__ import annotations

import datetime
from typing import Any

JsonObject = dict[str, Any]


def _pod_spec(image: str, **extra: Any) -> JsonObject:
    return {"containers": [{"name": "app", "image": image}], **extra}


def pod(name: str, namespace: str, image: str = "nginx:1.25", **labels: str) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": _pod_spec(image),
    }


def configmap(name: str, namespace: str, data: dict[str, str] | None = None, **labels: str) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "data": dict(data or {}),
    }


def workload(
    kind: str, name: str, namespace: str, image: str = "nginx:1.25", replicas: int = 2
) -> JsonObject:
    """A Deployment, ReplicaSet, StatefulSet or DaemonSet selecting ``app=<name>``."""
    spec: JsonObject = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": _pod_spec(image)},
    }
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def deployment(name: str, namespace: str, image: str = "nginx:1.25", replicas: int = 2) -> JsonObject:
    return workload("Deployment", name, namespace, image, replicas)


def job(name: str, namespace: str, image: str = "busybox:1.36") -> JsonObject:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": _pod_spec(image, restartPolicy="Never")}},
    }


def cronjob(name: str, namespace: str, image: str = "busybox:1.36") -> JsonObject:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": _pod_spec(image, restartPolicy="OnFailure")}}},
        },
    }


def micro_time(moment: datetime.datetime | None = None) -> str:
    """A metav1.MicroTime as the apiserver expects it: six fractional digits, always."""
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease(name: str, namespace: str, holder: str, duration: int = 15) -> JsonObject:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": micro_time()},
    }


def event_v1(
    namespace: str, regarding: JsonObject, reason: str = "Injected", note: str = "injected"
) -> JsonObject:
    """An events.k8s.io/v1 Event with every field the strict validation requires."""
    meta = regarding["metadata"]
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}."},
        "eventTime": micro_time(),
        "reportingController": "sidecar-injector.io/injector",
        "reportingInstance": "injector-0",
        "action": "Inject",
        "reason": reason,
        "note": note,
        "type": "Normal",
        "regarding": {
            "apiVersion": regarding.get("apiVersion", "v1"),
            "kind": regarding.get("kind", ""),
            "name": meta["name"],
            "namespace": meta.get("namespace", namespace),
            "uid": meta.get("uid", ""),
        },
    }
