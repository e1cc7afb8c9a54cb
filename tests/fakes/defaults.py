"""What the apiserver adds to an object a client writes: defaulting, and the admission plugins of a
default cluster that mutate Pods.

A client that reads back what it wrote never gets exactly that: containers gain
``terminationMessagePath``, ``imagePullPolicy``, ``resources: {}``; a Deployment gains a strategy,
``revisionHistoryLimit``, ``progressDeadlineSeconds``; a Pod gains the service account token volume
mounted in every container, two tolerations, a priority. Code that compares live objects to what it
meant to write (drift, uninject) must cope with all of it, so the fake does it too. These are the
common defaults of pkg/apis/*/v1/defaults.go, not every one of them.
"""

from __future__ import annotations

import random
from typing import Any

from tests.fakes import resources as r

JsonObject = dict[str, Any]
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(length))


def apply_defaults(resource: r.ResourceType, obj: JsonObject) -> None:
    """Defaulting, run on every object a client sends (create, update, and the result of a patch)."""
    spec = obj.get("spec")
    if resource is r.DEPLOYMENTS and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
    elif resource is r.STATEFULSETS and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        update = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if update.get("type") == "RollingUpdate":
            update.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        retention.setdefault("whenDeleted", "Retain")
        retention.setdefault("whenScaled", "Retain")
    elif resource is r.DAEMONSETS and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        update = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if update.get("type") == "RollingUpdate":
            rolling = update.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
    elif resource is r.REPLICASETS and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
    elif resource is r.JOBS and isinstance(spec, dict):
        _default_job_spec(spec)
    elif resource is r.CRONJOBS and isinstance(spec, dict):
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job = spec.get("jobTemplate", {}).get("spec")
        if isinstance(job, dict):
            _default_job_spec(job)
    if resource.pod_template is not None:
        pod_spec = _dig(obj, (*resource.pod_template, "spec"))
        if isinstance(pod_spec, dict):
            default_pod_spec(pod_spec)
    if resource is r.PODS and isinstance(spec, dict):
        spec.setdefault("enableServiceLinks", True)


def _default_job_spec(spec: JsonObject) -> None:
    if "completions" not in spec and "parallelism" not in spec:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")


def default_pod_spec(spec: JsonObject) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            if isinstance(container, dict):
                _default_container(container)
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            for source in ("configMap", "secret", "projected", "downwardAPI"):
                if isinstance(volume.get(source), dict):
                    volume[source].setdefault("defaultMode", 420)


def _default_container(container: JsonObject) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("imagePullPolicy", _pull_policy(str(container.get("image", ""))))
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if isinstance(probe, dict):
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            if isinstance(probe.get("httpGet"), dict):
                probe["httpGet"].setdefault("scheme", "HTTP")
    for env in container.get("env") or []:
        field_ref = env.get("valueFrom", {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")


def _pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


def admit_pod(pod: JsonObject) -> None:
    """The mutating admission plugins of a default cluster, on Pod creation: ServiceAccount
    (service account name and its token volume mounted in every container), DefaultTolerationSeconds,
    Priority; and the status a new Pod starts with."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    if spec.get("automountServiceAccountToken") is not False:
        volume_name = f"kube-api-access-{random_suffix()}"
        spec.setdefault("volumes", []).append(_token_volume(volume_name))
        mount = {"name": volume_name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT}
        for group in ("initContainers", "containers"):
            for container in spec.get(group) or []:
                mounts = container.setdefault("volumeMounts", [])
                if not any(m.get("mountPath") == SERVICE_ACCOUNT_MOUNT for m in mounts):
                    mounts.append(dict(mount))
    tolerations = spec.setdefault("tolerations", [])
    for taint in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == taint for t in tolerations):
            tolerations.append(
                {"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    pod["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def _token_volume(name: str) -> JsonObject:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def _qos_class(spec: JsonObject) -> str:
    containers = [c for group in ("initContainers", "containers") for c in spec.get(group) or []]
    resources = [c.get("resources") or {} for c in containers]
    if not any(res.get("requests") or res.get("limits") for res in resources):
        return "BestEffort"
    guaranteed = all(
        {"cpu", "memory"} <= set(res.get("limits") or {})
        and all(
            (res.get("requests") or {}).get(k, res["limits"][k]) == res["limits"][k]
            for k in ("cpu", "memory")
        )
        for res in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def generated_name(prefix: str) -> str:
    return prefix + random_suffix()
