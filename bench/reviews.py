"""The AdmissionReview bodies the benchmarks send, as kube-apiserver sends them, and template folders.

Five scenarios (``SCENARIO_KEYS``): the reference scenario (``bench/reference/``: the review and
template a compiled Go injector was measured on, served from its own template folder); a Pod created
by a ReplicaSet and opted in (3.7 KiB); a ~200 KiB Pod of 30 containers; a Deployment CREATE; the
first Pod not opted in (answered without a patch). The others are served from ``examples/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.common import EXAMPLES, REFERENCE, REFERENCE_TEMPLATES, JsonObj


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    uid: str
    expect_patch: bool
    body: bytes
    object_bytes: int
    templates: tuple[Path, ...] = (EXAMPLES,)
    """The template folders its server is started with."""

    @property
    def expect(self) -> str:
        return "patch" if self.expect_patch else "nopatch"


def _review(obj: JsonObj, uid: str, resource: str, name: str, user: JsonObj) -> bytes:
    group, _, version = obj["apiVersion"].rpartition("/")
    gvk = {"group": group, "version": version, "kind": obj["kind"]}
    gvr = {"group": group, "version": version, "resource": resource}
    review: JsonObj = {
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": uid,
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": user,
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "x"},
        },
    }
    if not name:
        del review["request"]["name"]
    return json.dumps(review, separators=(",", ":")).encode()


CONTROLLER_USER = {
    "username": "system:serviceaccount:kube-system:replicaset-controller",
    "uid": "3a6c8a0e-5a3f-4c36-9d0e-5c2b8e7b1f10",
    "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
}
ADMIN_USER = {
    "username": "kubernetes-admin",
    "groups": ["kubeadm:cluster-admins", "system:authenticated"],
}
LEGACY_ANNOTATION = "initializer.kubernetes.io/logging-agent"


def _app_container(name: str, image: str, env: int = 6, mounts: int = 1, index: int = 0) -> JsonObj:
    variables: list[JsonObj] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
        {
            "name": "DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": f"{name}-db", "key": "password"}},
        },
    ]
    variables += [
        {"name": f"{name.upper().replace('-', '_')}_SETTING_{i:03d}", "value": f"value-{index}-{i}-abcdefgh"}
        for i in range(max(env - len(variables), 0))
    ]
    volume_mounts: list[JsonObj] = [
        {"name": f"{name}-data-{i}", "mountPath": f"/var/lib/{name}/data-{i}"} for i in range(mounts - 1)
    ]
    volume_mounts.append(
        {
            "name": "kube-api-access-x7k2p",
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    )
    probe: JsonObj = {
        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    return {
        "name": name,
        "image": image,
        "args": ["--config=/etc/app/config.yaml", "--log-level=info"],
        "ports": [
            {"name": "http", "containerPort": 8080 + index, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9102 + index, "protocol": "TCP"},
        ],
        "env": variables,
        "resources": {
            "limits": {"cpu": "1", "memory": "512Mi"},
            "requests": {"cpu": "250m", "memory": "256Mi"},
        },
        "volumeMounts": volume_mounts,
        "livenessProbe": {**probe, "initialDelaySeconds": 10},
        "readinessProbe": {**probe, "httpGet": {**probe["httpGet"], "path": "/readyz"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
    }


def _pod_spec(containers: list[JsonObj], volumes: list[JsonObj]) -> JsonObj:
    return {
        "volumes": [
            *volumes,
            {
                "name": "kube-api-access-x7k2p",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
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
                    "defaultMode": 420,
                },
            },
        ],
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "checkout-api",
        "serviceAccount": "checkout-api",
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": f"node.kubernetes.io/{t}",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
            for t in ("not-ready", "unreachable")
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }


LABELS = {
    "app.kubernetes.io/name": "checkout-api",
    "app.kubernetes.io/instance": "checkout-api",
    "app.kubernetes.io/version": "2.14.3",
    "app.kubernetes.io/component": "api",
    "app.kubernetes.io/part-of": "shop",
}
IMAGE = "registry.example.com/shop/checkout-api@sha256:" + "4f0e" * 16


def _replicaset_pod(annotated: bool, containers: list[JsonObj], volumes: list[JsonObj]) -> JsonObj:
    annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": "9102"}
    if annotated:
        annotations[LEGACY_ANNOTATION] = "true"
    fields_spec: JsonObj = {
        f'k:{{"name":"{c["name"]}"}}': {
            ".": {},
            "f:args": {},
            "f:image": {},
            "f:livenessProbe": {".": {}},
            "f:ports": {".": {}},
            "f:resources": {".": {}, "f:limits": {}, "f:requests": {}},
        }
        for c in containers[:3]
    }
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "generateName": "checkout-api-7c9f6d5b8d-",
            "namespace": "shop",
            "uid": "9d8f4c52-61c1-4b8e-9a63-0f5d8a3c2b71",
            "creationTimestamp": None,
            "labels": {**LABELS, "pod-template-hash": "7c9f6d5b8d"},
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "checkout-api-7c9f6d5b8d",
                    "uid": "5b1e7f0a-2c4d-4e6f-8a9b-0c1d2e3f4a5b",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-11-20T09:14:07Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {
                            "f:annotations": {
                                ".": {},
                                "f:prometheus.io/port": {},
                                "f:prometheus.io/scrape": {},
                            },
                            "f:generateName": {},
                            "f:labels": {".": {}, **{f"f:{k}": {} for k in LABELS}},
                            "f:ownerReferences": {".": {}, 'k:{"uid":"5b1e7f0a"}': {}},
                        },
                        "f:spec": {"f:containers": fields_spec, "f:dnsPolicy": {}, "f:volumes": {".": {}}},
                    },
                }
            ],
        },
        "spec": _pod_spec(containers, volumes),
        "status": {},
    }


def scenario_bodies() -> list[Scenario]:
    one = [_app_container("checkout-api", IMAGE, env=3)]
    pod = _replicaset_pod(True, one, [])
    plain = _replicaset_pod(False, one, [])

    # ~200 KiB: 30 containers, each with many variables and volume mounts, and their volumes.
    def large(env: int) -> JsonObj:
        containers = [
            _app_container(f"worker-{i:02d}", f"registry.example.com/shop/worker-{i:02d}:1.{i}.0", env, 4, i)
            for i in range(30)
        ]
        volumes: list[JsonObj] = [
            {"name": f"worker-{i:02d}-data-{j}", "configMap": {"name": f"worker-{i:02d}-config-{j}"}}
            for i in range(30)
            for j in range(3)
        ]
        return _replicaset_pod(True, containers, volumes)

    env = 10
    while len(json.dumps(large(env), separators=(",", ":"))) < 200 * 1024:
        env += 1
    big = large(env)

    deployment: JsonObj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout-api",
            "namespace": "shop",
            "creationTimestamp": None,
            "labels": dict(LABELS),
            "annotations": {LEGACY_ANNOTATION: "true", "deployment.kubernetes.io/revision": "1"},
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "apiVersion": "apps/v1",
                    "time": "2026-11-20T09:14:06Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:annotations": {".": {}}, "f:labels": {".": {}}}},
                }
            ],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "checkout-api"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": dict(LABELS)},
                "spec": _pod_spec([_app_container("checkout-api", IMAGE, env=3)], []),
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {},
    }

    def size(obj: JsonObj) -> int:
        return len(json.dumps(obj, separators=(",", ":")))

    prefix = "b7e0c0de-5eed-4b00-8000-00000000000"
    return [
        reference_scenario(),
        Scenario(
            "1-pod-rs",
            "Pod from a ReplicaSet, opted in",
            prefix + "1",
            True,
            _review(pod, prefix + "1", "pods", "", CONTROLLER_USER),
            size(pod),
        ),
        Scenario(
            "2-pod-large",
            "Pod, 30 containers, opted in",
            prefix + "2",
            True,
            _review(big, prefix + "2", "pods", "", CONTROLLER_USER),
            size(big),
        ),
        Scenario(
            "3-deployment",
            "Deployment CREATE, opted in",
            prefix + "3",
            True,
            _review(deployment, prefix + "3", "deployments", "checkout-api", ADMIN_USER),
            size(deployment),
        ),
        Scenario(
            "4-pod-not-opted-in",
            "Pod from a ReplicaSet, not opted in",
            prefix + "4",
            False,
            _review(plain, prefix + "4", "pods", "", CONTROLLER_USER),
            size(plain),
        ),
    ]


def reference_scenario() -> Scenario:
    """The Go injector's request, byte for byte, with its own template (bench/reference/README.md)."""
    body = (REFERENCE / "review.json").read_bytes()
    request = json.loads(body)["request"]
    return Scenario(
        "0-reference",
        "Reference: Pod from a ReplicaSet, fluentd agent (the Go injector's request)",
        request["uid"],
        True,
        body,
        len(json.dumps(request["object"], separators=(",", ":"))),
        (REFERENCE_TEMPLATES,),
    )


REFERENCE_KEY = "0-reference"
SCENARIO_KEYS = (REFERENCE_KEY, "1-pod-rs", "2-pod-large", "3-deployment", "4-pod-not-opted-in")


def write_native_templates(folder: Path, count: int) -> None:
    """``count`` native template ConfigMaps, one file each, as a mounted template folder holds them."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        (folder / f"sidecar-{n:04d}.yaml").write_text(
            f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: sidecar-{n}
  labels:
    sidecar-injector.io/template: "true"
data:
  template: |
    containers:
    - name: sidecar-{n}
      image: registry.example.com/sidecar:{n}
      args: ["--listen=127.0.0.1:{15000 + n}", "--upstream=127.0.0.1:8080"]
      resources:
        requests: {{cpu: 10m, memory: 16Mi}}
        limits: {{memory: 64Mi}}
      volumeMounts:
      - name: sidecar-{n}-data
        mountPath: /var/run/sidecar-{n}
    volumes:
    - name: sidecar-{n}-data
      emptyDir: {{}}
    env:
    - name: SIDECAR_{n}_ENDPOINT
      value: http://127.0.0.1:{15000 + n}
"""
        )
