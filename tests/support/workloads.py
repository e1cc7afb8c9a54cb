"""Hypothesis strategies for opted-in workloads of every supported kind, the templates they request,
and an oracle, written apart from the engine, for which of those templates may be injected."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.support.templates import template_set
from webhook.core.workloads import locate_pod_template

TEMPLATES = template_set(
    """
apiVersion: v1
kind: ConfigMap
metadata: {name: agent, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    containers: [{name: agent, image: "agent:1", volumeMounts: [{name: shared, mountPath: /shared}]}]
    initContainers: [{name: setup, image: "setup:1"}]
    volumes: [{name: shared, emptyDir: {}}]
    volumeMounts: [{name: shared, mountPath: /shared}]
    env: [{name: AGENT, value: "on"}]
    imagePullSecrets: [{name: pull}]
    annotations: {"example.com/agent": "on", "agent.example.com/mode": "x"}
    labels: {agent: "on"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: native, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    nativeSidecars: true
    containers: [{name: shipper, image: "shipper:1"}]
    volumes: [{name: logs, emptyDir: {}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dangling, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    volumeMounts: [{name: data, mountPath: /data}]
    env: [{name: DATA_DIR, value: /data}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: logging-agent-initializer}
data:
  config: |
    containers: [{name: logging-agent, image: "fluentd:1"}]
    volumes: [{name: varlog, emptyDir: {}}]
"""
)
# The container names each template adds: a template whose names are taken is not injected.
TEMPLATE_CONTAINERS = {"agent": {"agent", "setup"}, "native": {"shipper"}, "dangling": set()}
LEGACY_CONTAINERS = {"logging-agent": {"logging-agent"}}
# The volume "dangling" mounts without defining it: only a pod that has it may take the template.
DANGLING_VOLUME = "data"

KINDS = (
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ReplicationController",
    "Job",
    "CronJob",
)
NAMES = st.sampled_from(["web", "agent", "setup", "shipper", "logging-agent", "worker", "db"])
VOLUMES = st.sampled_from(["shared", "logs", "varlog", "data", "cache"])
# One directory, written as the API server lets an author write it.
SHARED_PATHS = st.sampled_from(["/shared", "/shared/", "//shared", "/./shared", "/shared//"])
ANNOTATION_KEYS = st.sampled_from(["team", "example.com/agent", "a.b/c", "odd.key", "x/y"])


@st.composite
def containers(draw: st.DrawFn, min_size: int) -> list[dict[str, Any]]:
    names = draw(st.lists(NAMES, min_size=min_size, max_size=4, unique=True))
    result = []
    for name in names:
        container: dict[str, Any] = {"name": name, "image": f"{name}:1"}
        if draw(st.booleans()):
            container["env"] = [{"name": "AGENT", "value": "app"}] if draw(st.booleans()) else []
        if draw(st.booleans()):
            container["volumeMounts"] = [{"name": "cache", "mountPath": draw(SHARED_PATHS)}]
        result.append(container)
    return result


@st.composite
def pod_specs(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    app = draw(containers(1))
    init = draw(st.one_of(st.none(), containers(0)))
    spec: dict[str, Any] = {"containers": app}
    if init is not None:
        spec["initContainers"] = [c for c in init if c["name"] not in {a["name"] for a in app}]
    volume_names = draw(st.one_of(st.none(), st.lists(VOLUMES, max_size=3, unique=True)))
    if volume_names is not None:
        spec["volumes"] = [{"name": v, "emptyDir": {}} for v in volume_names]
    mounted = {m["name"] for c in app + spec.get("initContainers", []) for m in c.get("volumeMounts", [])}
    if mounted - set(volume_names or []):
        spec.setdefault("volumes", []).append({"name": "cache", "emptyDir": {}})
    if kind in ("Job", "CronJob"):
        spec["restartPolicy"] = "Never"
    return spec


@st.composite
def workloads(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    kind = draw(st.sampled_from(kinds))
    spec = draw(pod_specs(kind))
    requested = draw(
        st.lists(st.sampled_from(sorted(TEMPLATE_CONTAINERS)), min_size=1, max_size=3, unique=True)
    )
    annotations = {k: "v" for k in draw(st.lists(ANNOTATION_KEYS, max_size=3, unique=True))}
    annotations["sidecar-injector.io/inject"] = ",".join(requested)
    if draw(st.booleans()):
        annotations["initializer.kubernetes.io/logging-agent"] = "true"
    pod_metadata: dict[str, Any] = {"labels": {"app": "x"}} if draw(st.booleans()) or kind != "Pod" else {}
    on_pod_template = draw(st.booleans()) or kind == "Pod"
    if on_pod_template:
        pod_metadata["annotations"] = annotations
    pod_template = {"metadata": pod_metadata, "spec": spec}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **pod_metadata}, "spec": spec}
    metadata: dict[str, Any] = {"name": "w"}
    if not on_pod_template:
        metadata["annotations"] = annotations
    if kind == "CronJob":
        body = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": pod_template}}}
    elif kind == "Job":
        body = {"template": pod_template}
    elif kind == "ReplicationController":
        body = {"selector": {"app": "x"}, "template": pod_template}
    else:
        body = {"selector": {"matchLabels": {"app": "x"}}, "template": pod_template}
    if kind == "StatefulSet":
        body["serviceName"] = "w"
        if draw(st.booleans()):  # the claim gives the pod the volume "dangling" mounts
            body["volumeClaimTemplates"] = [{"metadata": {"name": DANGLING_VOLUME}, "spec": {}}]
            spec["volumes"] = [v for v in spec.get("volumes", []) if v["name"] != DANGLING_VOLUME]
    api = {"Job": "batch/v1", "CronJob": "batch/v1", "ReplicationController": "v1"}.get(kind, "apps/v1")
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": body}


def pod_template_of(obj: dict[str, Any]) -> dict[str, Any]:
    node = obj
    for token in locate_pod_template(obj["kind"]) or ():
        node = node[token]
    return node


def injectable(obj: dict[str, Any]) -> tuple[list[str], bool]:
    """The requested templates that should be injected, in order, and whether one of them mounts a
    volume the pod lacks (then the whole object must be refused)."""
    pod_template = pod_template_of(obj)
    spec = pod_template["spec"]
    annotations = obj["metadata"].get("annotations") or pod_template["metadata"].get("annotations")
    names = annotations["sidecar-injector.io/inject"].split(",")
    wanted = {n: TEMPLATE_CONTAINERS[n] for n in names}
    if annotations.get("initializer.kubernetes.io/logging-agent") == "true":
        wanted.update(LEGACY_CONTAINERS)
    taken = {c["name"] for c in spec["containers"] + spec.get("initContainers", [])}
    accepted = []
    for name, adds in wanted.items():
        if not adds & taken:
            accepted.append(name)
            taken |= adds
    claims = (
        {c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates", [])}
        if obj["kind"] == "StatefulSet"
        else set()
    )
    volumes = {v["name"] for v in spec.get("volumes", [])} | claims
    return accepted, "dangling" in accepted and DANGLING_VOLUME not in volumes
