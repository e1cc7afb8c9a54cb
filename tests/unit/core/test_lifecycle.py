"""States of Pods and workloads against the current templates; uninject's edges."""

from __future__ import annotations

import json

from tests.support.templates import template_set
from webhook.core import AdmissionFacts, InjectionPolicy, mutate
from webhook.core.lifecycle import PodMetadata, pod_states, uninject, workload_states
from webhook.core.model import NamespaceMetadata
from webhook.core.status import InjectionStatus, StatusEntry, render_status

POLICY = InjectionPolicy()
SHIPPER = """
apiVersion: v1
kind: ConfigMap
metadata: {{name: shipper, labels: {{sidecar-injector.io/template: "true"}}}}
data:
  template: |
    injection: {mode}
    containers: [{{name: shipper, image: "shipper:{version}"}}]
"""


def templates(version: int = 1, mode: str = "pod"):  # type: ignore[no-untyped-def]
    return template_set(SHIPPER.format(version=version, mode=mode))


def status(**revisions: str) -> str:
    return render_status(InjectionStatus(tuple(StatusEntry(n, r) for n, r in revisions.items()))).text


def annotations(inject: str | None = None, **revisions: str) -> PodMetadata:
    found = {"sidecar-injector.io/inject": inject} if inject else {}
    if revisions:
        found["sidecar-injector.io/status"] = status(**revisions)
    return PodMetadata(found)


OPTED_IN_NAMESPACE = NamespaceMetadata(labels={"sidecar-injector.io/inject": "shipper"})


def test_a_pod_is_current_outdated_missing_or_running_a_gone_template() -> None:
    current = templates().resolve("shipper", "shop")
    assert current is not None
    rev = current.revision

    def state(found: PodMetadata) -> list[tuple[str, str]]:
        return [(s.template, s.state) for s in pod_states(found, "shop", None, templates(), POLICY)]

    assert state(annotations("shipper", shipper=rev)) == [("shipper", "current")]
    assert state(annotations("shipper", shipper="0000000000000000")) == [("shipper", "outdated")]
    assert state(annotations("shipper")) == [("shipper", "missing-injection")]
    assert state(annotations(None, gone="0000000000000000")) == [("gone", "template-gone")]
    assert state(annotations("never-existed")) == []  # a typo: the admission warned, not a drift
    assert state(PodMetadata()) == []
    labelled = PodMetadata(labels={"sidecar-injector.io/inject": "shipper"})
    assert state(labelled) == [("shipper", "missing-injection")]


def test_a_pod_opted_in_by_its_namespace_label_alone_and_not_injected_misses_the_injection() -> None:
    """ "Opted in" is the server's decision (core/optin.py), the namespace's signals included."""

    def state(pod: PodMetadata, namespace: NamespaceMetadata | None) -> list[tuple[str, str]]:
        return [(s.template, s.state) for s in pod_states(pod, "shop", namespace, templates(), POLICY)]

    assert state(PodMetadata(), OPTED_IN_NAMESPACE) == [("shipper", "missing-injection")]
    assert state(PodMetadata(), None) == [], "namespace unknown: no namespace opt-in counts"
    opted_out = PodMetadata({"sidecar-injector.io/inject": "false"})
    assert state(opted_out, OPTED_IN_NAMESPACE) == [], "the Pod's own opt-out decides over its namespace"
    off = InjectionPolicy(namespace_opt_in=False)
    assert pod_states(PodMetadata(), "shop", OPTED_IN_NAMESPACE, templates(), off) == ()


def test_a_workload_opted_in_by_its_namespace_alone_misses_the_injection_in_its_pods() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"metadata": {}, "spec": {"containers": [{"name": "web", "image": "w"}]}}},
    }
    [state] = workload_states(deployment, [PodMetadata()], OPTED_IN_NAMESPACE, templates(), POLICY)
    assert state.state == "missing-injection" and state.pods == {"missing-injection": 1}
    assert workload_states(deployment, [PodMetadata()], None, templates(), POLICY) == ()


def test_a_workload_takes_the_worst_state_of_its_pods_and_counts_them() -> None:
    rev = templates().resolve("shipper", "shop").revision  # type: ignore[union-attr]
    deployment = {
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "annotations": {"sidecar-injector.io/inject": "shipper"},
        },
        "spec": {"template": {"metadata": {}, "spec": {"containers": [{"name": "web", "image": "w"}]}}},
    }
    pods = [annotations(None, shipper=rev), annotations(None, shipper="old0000000000000"), PodMetadata()]
    [state] = workload_states(deployment, pods, None, templates(), POLICY)
    assert state.state == "missing-injection"
    assert state.pods == {"current": 1, "outdated": 1, "missing-injection": 1}
    assert state.running == tuple(sorted([rev, "old0000000000000"]))
    assert state.mode == "pod" and state.current == rev
    [state] = workload_states(deployment, pods[:1], None, templates(), POLICY)
    assert state.state == "current"
    [state] = workload_states(deployment, [], None, templates(), POLICY)
    assert state.state == "current", "pod injection with no pod: nothing runs an old revision"


def test_workload_injection_counts_the_workloads_own_pod_template() -> None:
    tmpl = templates(mode="workload")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"sidecar-injector.io/inject": "shipper"}},
                "spec": {"containers": [{"name": "web", "image": "w"}]},
            }
        },
    }
    [state] = workload_states(deployment, [], None, tmpl, POLICY)
    assert state.state == "missing-injection"
    injected = mutate(deployment, AdmissionFacts("u", "CREATE", "Deployment", "shop"), tmpl, POLICY).patched
    [state] = workload_states(injected, [], None, tmpl, POLICY)  # type: ignore[arg-type]
    assert state.state == "current"
    [state] = workload_states(injected, [], None, templates(2, mode="workload"), POLICY)  # type: ignore[arg-type]
    assert state.state == "outdated"
    # The template moved to pod injection: its copy in the workload's spec is now in the wrong place.
    [state] = workload_states(injected, [], None, templates(1, mode="pod"), POLICY)  # type: ignore[arg-type]
    assert state.state == "outdated"


def test_uninject_leaves_an_object_without_a_status_alone() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}}
    result = uninject(pod, "Pod", POLICY)
    assert result.obj is pod and not result.removed


def test_an_unreadable_status_is_left_alone_and_reported() -> None:
    pod = {"kind": "Pod", "metadata": {"annotations": {"sidecar-injector.io/status": "{junk"}}}
    result = uninject(pod, "Pod", POLICY)
    assert result.obj is pod and result.warnings


def test_a_version_1_status_is_removed_only_when_the_same_revision_is_served() -> None:
    tmpl = templates(mode="workload")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"sidecar-injector.io/inject": "shipper"}},
        "spec": {"containers": [{"name": "web", "image": "w"}]},
    }
    injected = mutate(pod, AdmissionFacts("u", "CREATE", "Pod", "shop"), tmpl, POLICY).patched
    assert injected is not None
    annotations_ = injected["metadata"]["annotations"]
    decoded = json.loads(annotations_["sidecar-injector.io/status"])
    annotations_["sidecar-injector.io/status"] = json.dumps(
        {"injected": [{"name": e["name"], "revision": e["revision"]} for e in decoded["injected"]]}
    )
    unknown = uninject(injected, "Pod", POLICY, templates=templates(2, mode="workload"))
    assert unknown.unknown == ("shipper",) and not unknown.removed
    inferred = uninject(injected, "Pod", POLICY, templates=tmpl)
    assert inferred.inferred == ("shipper",)
    assert inferred.obj["spec"]["containers"] == pod["spec"]["containers"]
    assert "sidecar-injector.io/status" not in inferred.obj["metadata"]["annotations"]
