"""AdmissionReview bodies as kube-apiserver sends them."""

from __future__ import annotations

import uuid
from typing import Any


def review(
    obj: dict[str, Any] | None, operation: str = "CREATE", namespace: str = "default", **extra: Any
) -> dict[str, Any]:
    kind = obj["kind"] if obj else "Pod"
    group, _, version = (obj or {}).get("apiVersion", "v1").rpartition("/")
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "namespace": namespace,
        "operation": operation,
        "userInfo": {
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "groups": ["system:authenticated"],
        },
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    request.update(extra)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def opted_in_pod(annotation: str = "logging-agent") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "helloworld-6d8f9c7b5-",
            "namespace": "default",
            "annotations": {f"initializer.kubernetes.io/{annotation}": "true"},
        },
        "spec": {"containers": [{"name": "helloworld", "image": "gcr.io/hightowerlabs/helloworld:0.0.1"}]},
    }
