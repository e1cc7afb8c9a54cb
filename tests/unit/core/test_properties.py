"""Property tests: for generated workloads, mutate → apply → valid, and mutating again is a no-op."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.templates import template_set
from tests.support.validation import assert_valid
from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, mutate
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
    annotations: {"example.com/agent": "on", "odd~key": "x"}
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
metadata: {name: logging-agent-initializer}
data:
  config: |
    containers: [{name: logging-agent, image: "fluentd:1"}]
    volumes: [{name: varlog, emptyDir: {}}]
"""
)
POLICY = InjectionPolicy()
NAMES = st.sampled_from(["web", "agent", "setup", "shipper", "logging-agent", "worker", "db"])
VOLUMES = st.sampled_from(["shared", "logs", "varlog", "data", "cache"])
ANNOTATION_KEYS = st.sampled_from(["team", "example.com/agent", "a~b/c", "odd~key", "x/y"])


@st.composite
def containers(draw: st.DrawFn, min_size: int) -> list[dict[str, Any]]:
    names = draw(st.lists(NAMES, min_size=min_size, max_size=4, unique=True))
    result = []
    for name in names:
        container: dict[str, Any] = {"name": name, "image": f"{name}:1"}
        if draw(st.booleans()):
            container["env"] = [{"name": "AGENT", "value": "app"}] if draw(st.booleans()) else []
        if draw(st.booleans()):
            container["volumeMounts"] = [{"name": "data", "mountPath": "/shared"}]
        result.append(container)
    return result


@st.composite
def workloads(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]))
    app = draw(containers(1))
    init = draw(st.one_of(st.none(), containers(0)))
    init = [c for c in init or [] if c["name"] not in {a["name"] for a in app}] if init is not None else None
    spec: dict[str, Any] = {"containers": app}
    if init is not None:
        spec["initContainers"] = init
    volume_names = draw(st.one_of(st.none(), st.lists(VOLUMES, max_size=3, unique=True)))
    if volume_names is not None:
        spec["volumes"] = [{"name": v, "emptyDir": {}} for v in volume_names]
    if any(m["name"] == "data" for c in app for m in c.get("volumeMounts", [])) and "data" not in (
        volume_names or []
    ):
        spec.setdefault("volumes", []).append({"name": "data", "emptyDir": {}})
    if kind in ("Job", "CronJob"):
        spec["restartPolicy"] = "Never"
    requested = draw(st.lists(st.sampled_from(["agent", "native"]), min_size=1, max_size=2, unique=True))
    annotations = {k: "v" for k in draw(st.lists(ANNOTATION_KEYS, max_size=3, unique=True))}
    annotations["sidecar-injector.io/inject"] = ",".join(requested)
    if draw(st.booleans()):
        annotations["initializer.kubernetes.io/logging-agent"] = "true"
    with_metadata = draw(st.booleans())
    pod_metadata: dict[str, Any] = {"labels": {"app": "x"}} if with_metadata or kind != "Pod" else {}
    if draw(st.booleans()) or kind == "Pod":
        pod_metadata["annotations"] = annotations
        outer_annotations = None
    else:
        outer_annotations = annotations
    pod_template = {"metadata": pod_metadata, "spec": spec}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **pod_metadata}, "spec": spec}
    metadata: dict[str, Any] = {"name": "w"}
    if outer_annotations:
        metadata["annotations"] = outer_annotations
    api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    if kind == "CronJob":
        body = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": pod_template}}}
    elif kind == "Job":
        body = {"template": pod_template}
    else:
        body = {"selector": {"matchLabels": {"app": "x"}}, "template": pod_template}
        if kind == "StatefulSet":
            body["serviceName"] = "w"
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": body}


def facts_for(obj: dict[str, Any]) -> AdmissionFacts:
    return AdmissionFacts("uid", "CREATE", obj["kind"], "default")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_mutation_applies_validates_keeps_the_app_and_is_idempotent(obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    result = mutate(obj, facts_for(obj), TEMPLATES, POLICY)
    assert obj == before, "the engine must not modify its input"
    assert result.patch, result.skip_reason
    mutated = jsonpatch.apply_patch(obj, list(result.patch))
    assert_valid(mutated)

    tokens = locate_pod_template(obj["kind"]) or ()
    old_spec, new_spec = obj, mutated
    for token in (*tokens, "spec"):
        old_spec, new_spec = old_spec[token], new_spec[token]
    # The workload's own containers keep their order, names and images; they only gain env/mounts.
    old_names = [c["name"] for c in old_spec["containers"]]
    assert [c["name"] for c in new_spec["containers"]][: len(old_names)] == old_names
    for old, new in zip(old_spec["containers"], new_spec["containers"], strict=False):
        assert {k: v for k, v in new.items() if k not in ("env", "volumeMounts")} == {
            k: v for k, v in old.items() if k not in ("env", "volumeMounts")
        }
        for field in ("env", "volumeMounts"):
            assert new.get(field, [])[: len(old.get(field, []))] == old.get(field, [])

    again = mutate(mutated, facts_for(mutated), TEMPLATES, POLICY)
    assert again.patch == ()


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
JUNK = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "metadata",
                    "spec",
                    "containers",
                    "annotations",
                    "template",
                    "volumes",
                    "initContainers",
                    "env",
                    "name",
                    "jobTemplate",
                    "sidecar-injector.io/inject",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=25,
)


@given(
    kind=st.sampled_from(["Pod", "Deployment", "CronJob", "Job", "Service"]),
    body=JUNK,
    annotations=st.sampled_from([None, {"sidecar-injector.io/inject": "agent"}, {"a": 1}, "junk"]),
)
def test_arbitrary_junk_objects_never_raise_anything_but_injection_errors(
    kind: str, body: Any, annotations: Any
) -> None:
    obj = {"kind": kind, "metadata": {"annotations": annotations}, "spec": body}
    if isinstance(body, dict) and isinstance(body.get("template"), dict):
        body["template"].setdefault("metadata", {"annotations": annotations})
    try:
        result = mutate(obj, facts_for(obj), TEMPLATES, POLICY)
    except InjectionError:
        return
    if result.patch:
        patched = jsonpatch.apply_patch(obj, list(result.patch))
        assert isinstance(patched, dict)
