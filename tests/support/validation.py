"""Every mutated object is checked against the real Kubernetes OpenAPI schema (strict: no unknown fields)."""

from __future__ import annotations

import posixpath
from typing import Any

import kubernetes_validate

CURRENT_KUBERNETES = "1.35"


def assert_valid(obj: dict[str, Any], version: str = CURRENT_KUBERNETES) -> None:
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path)
        raise AssertionError(
            f"{obj.get('kind')} invalid for Kubernetes {version} at {path}: {exc.message}"
        ) from None
    _assert_unique_names(obj)


def _assert_unique_names(obj: dict[str, Any]) -> None:
    from webhook.core.workloads import locate_pod_template

    tokens = locate_pod_template(str(obj.get("kind")))
    if tokens is None:
        return
    node: Any = obj
    for token in tokens:
        node = node[token]
    spec = node["spec"]
    containers = [c["name"] for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]]
    volumes = [v["name"] for v in spec.get("volumes") or []]
    assert len(set(containers)) == len(containers), f"duplicate container names: {containers}"
    assert len(set(volumes)) == len(volumes), f"duplicate volume names: {volumes}"
    _assert_mounts_name_volumes(obj, spec, set(volumes))


def _assert_mounts_name_volumes(obj: dict[str, Any], spec: dict[str, Any], volumes: set[str]) -> None:
    """What the schema cannot see and the API server checks: every mount names a volume of the pod (a
    StatefulSet's claim templates count), and no container mounts two volumes on one directory."""
    is_stateful_set = obj.get("kind") == "StatefulSet"
    claims = (obj.get("spec") or {}).get("volumeClaimTemplates") or [] if is_stateful_set else []
    known = volumes | {claim["metadata"]["name"] for claim in claims}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        mounts = container.get("volumeMounts") or []
        for mount in [*mounts, *(container.get("volumeDevices") or [])]:
            assert mount["name"] in known, f"{container['name']} mounts unknown volume {mount['name']!r}"
        paths = [_directory(m["mountPath"]) for m in mounts]
        assert len(set(paths)) == len(paths), f"{container['name']} mounts one directory twice: {paths}"


def _directory(path: str) -> str:
    # Independent of webhook.core.mounts on purpose: posixpath keeps a leading "//", so strip it first.
    return "/" + posixpath.normpath(path).lstrip("/") if path.startswith("/") else path
