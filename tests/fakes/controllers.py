"""Playing the workload controllers, so tests can drive rollouts to an end they choose.

``complete_rollout`` does what the Deployment, ReplicaSet, StatefulSet and DaemonSet controllers do
once every new Pod is ready: the Pods of the current template exist (created through the API, so they
carry what admission adds), owned as the real controllers own them (Deployment → ReplicaSet with a
``pod-template-hash`` → Pods; StatefulSet → ``<name>-<ordinal>``; DaemonSet → one Pod per node), old
ones are gone, and ``status`` says so: ``observedGeneration`` = ``generation`` and all replicas updated,
ready and available (for a Deployment, ``Available`` and ``Progressing`` (NewReplicaSetAvailable)
conditions and the ``deployment.kubernetes.io/revision`` annotation, written through ``/status`` as the
controller does, so ``generation`` does not move).

``fail_rollout`` leaves the rollout where it got stuck: a Deployment reports ``Progressing=False``
with reason ``ProgressDeadlineExceeded``; StatefulSets and DaemonSets have no such condition, so they
just never finish (observed, but nothing updated).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from tests.fakes import defaults
from tests.fakes import resources as r

if TYPE_CHECKING:
    from tests.fakes.apiserver import FakeApiServer

JsonObject = dict[str, Any]
WORKLOADS = (r.DEPLOYMENTS, r.STATEFULSETS, r.DAEMONSETS)
REVISION = "deployment.kubernetes.io/revision"
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: JsonObject) -> str:
    digest = int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest(), 16)
    chars = []
    for _ in range(10):
        digest, index = divmod(digest, len(_HASH_ALPHABET))
        chars.append(_HASH_ALPHABET[index])
    return "".join(chars)


def owner_reference(owner: JsonObject) -> JsonObject:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


class RolloutController:
    def __init__(self, fake: FakeApiServer) -> None:
        self.fake = fake

    def complete(self, resource: r.ResourceType, namespace: str, name: str, *, nodes: int = 1) -> JsonObject:
        with self.fake.store.lock:
            workload = self.fake.get_object(resource.qualified, namespace, name)
            if resource is r.DEPLOYMENTS:
                return self._complete_deployment(workload)
            if resource is r.STATEFULSETS:
                return self._complete_statefulset(workload)
            if resource is r.DAEMONSETS:
                return self._complete_daemonset(workload, nodes)
            raise ValueError(f"{resource.qualified} has no rollout")

    def fail(self, resource: r.ResourceType, namespace: str, name: str) -> JsonObject:
        with self.fake.store.lock:
            workload = self.fake.get_object(resource.qualified, namespace, name)
            meta, spec = workload["metadata"], workload.get("spec") or {}
            replicas = spec.get("replicas", 1)
            status: JsonObject = {"observedGeneration": meta["generation"]}
            if resource is r.DEPLOYMENTS:
                rs_name = f"{name}-{template_hash(spec.get('template') or {})}"
                status.update(replicas=replicas, updatedReplicas=0, unavailableReplicas=replicas)
                status["conditions"] = [
                    _condition(
                        "Available",
                        "False",
                        "MinimumReplicasUnavailable",
                        "Deployment does not have minimum availability.",
                    ),
                    _condition(
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        f'ReplicaSet "{rs_name}" has timed out progressing.',
                    ),
                ]
            elif resource is r.STATEFULSETS:
                status.update(replicas=replicas, updatedReplicas=0, availableReplicas=0, readyReplicas=0)
            else:
                status.update(updatedNumberScheduled=0, numberUnavailable=1, desiredNumberScheduled=1)
            return self._write_status(resource, workload, status)

    # -- per kind --------------------------------------------------------------------------------------

    def _complete_deployment(self, deployment: JsonObject) -> JsonObject:
        meta, spec = deployment["metadata"], deployment["spec"]
        replicas = spec.get("replicas", 1)
        replicaset, template = self._current_replicaset(deployment)
        rs_name = replicaset["metadata"]["name"]
        self._retire_replicasets(deployment, keep=rs_name)
        self._ensure_pods(replicaset, template, replicas, lambda: f"{rs_name}-{defaults.random_suffix()}")
        replicaset = self.fake.get_object("replicasets.apps", meta["namespace"], rs_name)
        ready = {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
        rs_status = {
            **ready,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": replicaset["metadata"]["generation"],
        }
        self._write_status(r.REPLICASETS, replicaset, rs_status)
        status = {
            **ready,
            "observedGeneration": meta["generation"],
            "updatedReplicas": replicas,
            "conditions": [
                _condition(
                    "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."
                ),
                _condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                ),
            ],
        }
        revision = replicaset["metadata"]["annotations"][REVISION]
        annotations = {**(meta.get("annotations") or {}), REVISION: revision}
        return self._write_status(r.DEPLOYMENTS, deployment, status, annotations)

    def _current_replicaset(self, deployment: JsonObject) -> tuple[JsonObject, JsonObject]:
        """The ReplicaSet of the current template (created with the next revision if new) and the
        template its Pods get (with the ``pod-template-hash`` label)."""
        meta, spec = deployment["metadata"], deployment["spec"]
        template = copy.deepcopy(spec["template"])
        pod_hash = template_hash(template)
        labels = {**(template.get("metadata") or {}).get("labels", {}), "pod-template-hash": pod_hash}
        template.setdefault("metadata", {})["labels"] = labels
        owned = self._owned(r.REPLICASETS, deployment)
        name = f"{meta['name']}-{pod_hash}"
        existing = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
        if existing is not None:
            return existing, template
        revision = (
            max((int(rs["metadata"].get("annotations", {}).get(REVISION, "0")) for rs in owned), default=0)
            + 1
        )
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        replicas = spec.get("replicas", 1)
        annotations = {
            "deployment.kubernetes.io/desired-replicas": str(replicas),
            "deployment.kubernetes.io/max-replicas": str(replicas + 1),
            REVISION: str(revision),
        }
        replicaset = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        }
        return self.fake.create_object(replicaset), template

    def _retire_replicasets(self, deployment: JsonObject, keep: str) -> None:
        for old in self._owned(r.REPLICASETS, deployment):
            if old["metadata"]["name"] == keep:
                continue
            self._delete_owned_pods(old)
            if old["spec"].get("replicas"):
                old["spec"]["replicas"] = 0
                scaled = self.fake.update_object(old)
                status = {"replicas": 0, "observedGeneration": scaled["metadata"]["generation"]}
                self._write_status(r.REPLICASETS, scaled, status)

    def _complete_statefulset(self, statefulset: JsonObject) -> JsonObject:
        meta, spec = statefulset["metadata"], statefulset["spec"]
        replicas = spec.get("replicas", 1)
        revision = f"{meta['name']}-{template_hash(spec['template'])}"
        for index in range(replicas):
            template = copy.deepcopy(spec["template"])
            labels = {
                **(template.get("metadata") or {}).get("labels", {}),
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": f"{meta['name']}-{index}",
                "apps.kubernetes.io/pod-index": str(index),
            }
            template.setdefault("metadata", {})["labels"] = labels
            pod_name = f"{meta['name']}-{index}"
            existing = self.fake.store.get("pods", meta["namespace"], pod_name)
            if (
                existing is not None
                and existing["metadata"].get("labels", {}).get("controller-revision-hash") != revision
            ):
                self.fake.delete_object("pods", meta["namespace"], pod_name)
                existing = None
            if existing is None:
                self._create_pod(statefulset, template, pod_name)
        status = {
            "observedGeneration": meta["generation"],
            "replicas": replicas,
            "readyReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        return self._write_status(r.STATEFULSETS, statefulset, status)

    def _complete_daemonset(self, daemonset: JsonObject, nodes: int) -> JsonObject:
        meta, spec = daemonset["metadata"], daemonset["spec"]
        template = copy.deepcopy(spec["template"])
        revision = template_hash(template)
        labels = {**(template.get("metadata") or {}).get("labels", {}), "controller-revision-hash": revision}
        template.setdefault("metadata", {})["labels"] = labels
        pods = self._owned(r.PODS, daemonset)
        for pod in pods:
            if pod["metadata"].get("labels", {}).get("controller-revision-hash") != revision:
                self.fake.delete_object("pods", meta["namespace"], pod["metadata"]["name"])
        current = [p for p in self._owned(r.PODS, daemonset)]
        for index in range(len(current), nodes):
            node_template = copy.deepcopy(template)
            node_template.setdefault("spec", {})["nodeName"] = f"node-{index}"
            self._create_pod(daemonset, node_template, f"{meta['name']}-{defaults.random_suffix()}")
        status = {
            "observedGeneration": meta["generation"],
            "currentNumberScheduled": nodes,
            "desiredNumberScheduled": nodes,
            "numberMisscheduled": 0,
            "numberReady": nodes,
            "numberAvailable": nodes,
            "updatedNumberScheduled": nodes,
        }
        return self._write_status(r.DAEMONSETS, daemonset, status)

    # -- shared --------------------------------------------------------------------------------------

    def _owned(self, resource: r.ResourceType, owner: JsonObject) -> list[JsonObject]:
        uid = owner["metadata"]["uid"]
        return [
            copy.deepcopy(o)
            for o in self.fake.store.items(resource.storage)
            if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or [])
        ]

    def _ensure_pods(self, owner: JsonObject, template: JsonObject, replicas: int, name: Any) -> None:
        pods = self._owned(r.PODS, owner)
        for pod in pods[replicas:]:
            self.fake.delete_object("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        for _ in range(len(pods), replicas):
            self._create_pod(owner, template, name())

    def _delete_owned_pods(self, owner: JsonObject) -> None:
        for pod in self._owned(r.PODS, owner):
            self.fake.delete_object("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _create_pod(self, owner: JsonObject, template: JsonObject, name: str) -> JsonObject:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                **copy.deepcopy(template.get("metadata") or {}),
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "ownerReferences": [owner_reference(owner)],
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        created = self.fake.create_object(pod)
        created["status"] = {
            **created.get("status", {}),
            "phase": "Running",
            "conditions": [_condition("Ready", "True", "", "")],
        }
        obj, _ = self.fake.rest.update(r.PODS, created["metadata"]["namespace"], name, created, "status")
        return obj

    def _write_status(
        self,
        resource: r.ResourceType,
        obj: JsonObject,
        status: JsonObject,
        annotations: JsonObject | None = None,
    ) -> JsonObject:
        obj = copy.deepcopy(obj)
        obj["status"] = status
        if annotations is not None:
            obj["metadata"]["annotations"] = annotations
        meta = obj["metadata"]
        updated, _ = self.fake.rest.update(resource, meta.get("namespace"), meta["name"], obj, "status")
        return updated


def _condition(kind: str, status: str, reason: str, message: str) -> JsonObject:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    condition = {"type": kind, "status": status, "lastTransitionTime": stamp}
    if kind in ("Available", "Progressing"):
        condition["lastUpdateTime"] = stamp
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition
