"""Property tests of the lifecycle: uninject undoes inject exactly, and the workload-mode upgrade
is inject(new) applied to uninject(inject(old)), realised by a patch that changes only that."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.templates import template_set
from tests.support.validation import assert_valid
from tests.support.workloads import TEMPLATES, workloads
from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, TemplateSet, mutate
from webhook.core.lifecycle import uninject, upgrade

POLICY = InjectionPolicy()
UPDATABLE = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController", "CronJob")

# The same template names with new content: images bumped, items added, removed and renamed.
NEW_TEMPLATES = template_set(
    """
apiVersion: v1
kind: ConfigMap
metadata: {name: agent, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    containers: [{name: agent, image: "agent:2", volumeMounts: [{name: shared, mountPath: /shared}]}]
    volumes: [{name: shared, emptyDir: {}}, {name: agent-cache, emptyDir: {}}]
    env: [{name: AGENT, value: "v2"}, {name: AGENT_MODE, value: "fast"}]
    annotations: {"example.com/agent": "v2"}
    labels: {agent: "v2", tier: "agent"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: native, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    nativeSidecars: true
    containers: [{name: shipper, image: "shipper:2"}, {name: forwarder, image: "forwarder:1"}]
    imagePullSecrets: [{name: shipper-pull}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dangling, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    env: [{name: DATA_DIR, value: /data/v2}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: logging-agent-initializer}
data:
  config: |
    containers: [{name: logging-agent, image: "fluentd:2"}]
    volumes: [{name: varlog, emptyDir: {}}, {name: fluentd-config, emptyDir: {}}]
"""
)


def exact(obj: object) -> str:
    return json.dumps(obj)


def injected(obj: dict[str, Any], templates: TemplateSet) -> tuple[dict[str, Any], tuple[str, ...]]:
    facts = AdmissionFacts("uid", "CREATE", obj["kind"], "default")
    try:
        result = mutate(obj, facts, templates, POLICY)
    except InjectionError:
        assume(False)
        raise
    assume(result.injected)
    assert result.patched is not None
    return result.patched, result.injected


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_uninject_gives_back_exactly_what_was_injected_into(obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    mutated, _ = injected(obj, TEMPLATES)
    frozen = copy.deepcopy(mutated)

    result = uninject(mutated, obj["kind"], POLICY)

    assert mutated == frozen, "uninject must not change its input"
    assert exact(result.obj) == exact(before)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(workloads(UPDATABLE), st.booleans())
def test_the_upgrade_is_new_injected_into_old_uninjected(obj: dict[str, Any], partial: bool) -> None:
    obj["metadata"]["resourceVersion"] = "41"
    mutated, names = injected(obj, TEMPLATES)
    names = names[:1] if partial else names
    facts = AdmissionFacts("rollout", "UPDATE", obj["kind"], "default")
    only_new = TemplateSet({k: t for k, t in NEW_TEMPLATES.templates.items() if t.name in names})

    try:
        result = upgrade(mutated, facts, NEW_TEMPLATES, POLICY, names)
        expected = mutate(uninject(mutated, obj["kind"], POLICY, names=names).obj, facts, only_new, POLICY)
    except InjectionError:
        return  # the new templates cannot be applied to this workload: the upgrade says so too
    expected_obj = (
        expected.patched
        if expected.patched is not None
        else uninject(mutated, obj["kind"], POLICY, names=names).obj
    )
    assert exact(result.upgraded) == exact(expected_obj)
    # The patch realises it, guarded by the resourceVersion, and the result is a valid workload.
    applied = jsonpatch.apply_patch(mutated, list(result.patch))
    assert applied == result.upgraded
    if result.patch:
        assert result.patch[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "41"}
    assert_valid(applied)
    if not partial:  # everything replaced: the same as injecting the new templates afresh
        fresh = mutate(obj, facts, only_new, POLICY)
        assert exact(result.upgraded) == exact(fresh.patched if fresh.patched is not None else obj)
