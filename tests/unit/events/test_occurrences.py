"""Which Events a decided review calls for: reviews go through the real decision, bytes in."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from tests.support.reviews import opted_in_pod, review
from tests.support.templates import template_set
from webhook.core import InjectionPolicy
from webhook.core.model import NamespaceMetadata
from webhook.core.selection import NOT_OPTED_IN
from webhook.events.occurrences import (
    MAX_WARNING_EVENTS,
    NOTE_LIMIT,
    Occurrence,
    Regarding,
    admission_occurrences,
    template_recovered,
    template_rejected,
)
from webhook.server.decision import AdmissionDecision, Outcome
from webhook.templates.errors import Problem, TemplateError

TEMPLATES = """
apiVersion: v1
kind: ConfigMap
metadata: {name: log-shipper, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    containers:
    - name: shipper
      image: fluent/fluent-bit:3.2
      volumeMounts: [{name: logs, mountPath: /logs}]
"""
SNAPSHOT = template_set(TEMPLATES)
REVISION = SNAPSHOT.resolve("log-shipper", "shop").revision  # type: ignore[union-attr]
OWNER = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "name": "web-6d8f9c7b5",
    "uid": "rs-uid",
    "controller": True,
}


INJECT = "sidecar-injector.io/inject"
NOT_LABELLED = NamespaceMetadata()


def decided(
    obj: dict[str, Any],
    operation: str = "CREATE",
    namespace: NamespaceMetadata = NOT_LABELLED,
    **request: Any,
) -> Outcome:
    """The decision of ``serve``, with the watched namespace's labels and annotations."""
    decision = AdmissionDecision(lambda: SNAPSHOT, InjectionPolicy(), namespaces=lambda _: namespace)
    return decision.answer(orjson.dumps(review(obj, operation, namespace="shop", **request)))


def deployment(annotations: dict[str, str], uid: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web", "namespace": "shop"}
    if uid:
        metadata["uid"] = uid
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": annotations},
                "spec": {
                    "containers": [{"name": "app", "image": "app:1"}],
                    "volumes": [{"name": "logs", "emptyDir": {}}],
                },
            },
        },
    }


def test_an_injection_names_templates_and_revisions_on_the_object() -> None:
    [event] = admission_occurrences(decided(deployment({"sidecar-injector.io/inject": "log-shipper"})))
    assert event.regarding == Regarding("apps/v1", "Deployment", "shop", "web")
    assert (event.type, event.reason, event.action) == ("Normal", "Injected", "Inject")
    assert event.note == f"Injected log-shipper (revision {REVISION})"
    assert event.find_uid  # being created: kube-apiserver assigns the uid after admission


def test_an_update_carries_the_uid_and_needs_no_lookup() -> None:
    obj = deployment({"sidecar-injector.io/inject": "log-shipper"}, uid="dep-uid")
    [event] = admission_occurrences(decided(obj, "UPDATE"))
    assert event.regarding.uid == "dep-uid" and not event.find_uid
    assert event.regarding.as_json()["uid"] == "dep-uid"


def test_a_pod_without_a_name_is_reported_on_its_controller_owner() -> None:
    pod = opted_in_pod("log-shipper")
    pod["metadata"]["generateName"] = "web-6d8f9c7b5-"
    pod["metadata"]["ownerReferences"] = [{**OWNER, "controller": False, "name": "other"}, OWNER]
    pod["spec"]["volumes"] = [{"name": "logs", "emptyDir": {}}]
    pod["metadata"]["annotations"] = {"sidecar-injector.io/inject": "log-shipper"}
    [event] = admission_occurrences(decided(pod))
    assert event.regarding == Regarding("apps/v1", "ReplicaSet", "shop", "web-6d8f9c7b5", "rs-uid")
    assert event.note == f"Pod web-6d8f9c7b5-*: injected log-shipper (revision {REVISION})"
    assert not event.find_uid


def test_a_pod_without_a_name_or_a_controller_gets_no_event() -> None:
    pod = opted_in_pod("logging-agent")
    pod["metadata"]["ownerReferences"] = [{**OWNER, "controller": False}]
    assert admission_occurrences(decided(pod)) == ()


def test_a_skip_says_its_reason_token_and_each_warning_is_an_event() -> None:
    obj = deployment({"sidecar-injector.io/inject": "missing"})
    outcome = decided(obj)
    assert (outcome.outcome, outcome.reason) == ("skipped", "template-not-found")
    skipped, warning = admission_occurrences(outcome)
    assert (skipped.type, skipped.reason, skipped.note) == (
        "Normal",
        "Skipped",
        "Not injected: template-not-found",
    )
    assert (warning.type, warning.reason) == ("Warning", "Warning")
    text = outcome.result.warnings[0]  # type: ignore[union-attr]
    assert warning.note == text[0].upper() + text[1:]
    assert "'missing'" in warning.note


def test_a_denial_is_a_warning_with_the_message_and_looks_no_uid_up() -> None:
    obj = deployment({"sidecar-injector.io/inject": "log-shipper"})
    del obj["spec"]["template"]["spec"]["volumes"]  # the template mounts a volume the pod lacks
    outcome = decided(obj)
    assert (outcome.outcome, outcome.reason) == ("denied", "volume-not-found")
    [event] = admission_occurrences(outcome)
    assert (event.type, event.reason) == ("Warning", "Denied")
    assert event.note == f"Denied: {outcome.detail}"
    assert not event.find_uid  # a denied object is never stored


def test_dry_runs_record_nothing() -> None:
    obj = deployment({"sidecar-injector.io/inject": "log-shipper"})
    outcome = decided(obj, dryRun=True)
    assert outcome.outcome == "injected"
    assert admission_occurrences(outcome) == ()
    outcome = decided(ns_pod(), namespace=LABELLED, dryRun=True)  # opted in by its namespace
    assert outcome.outcome == "injected"
    assert admission_occurrences(outcome) == ()


@pytest.mark.parametrize(
    ("obj", "operation", "extra"),
    [
        (deployment({}), "CREATE", {}),  # not-requested
        (deployment({"sidecar-injector.io/inject": "false"}), "CREATE", {}),
        (deployment({"sidecar-injector.io/inject": "log-shipper"}), "CREATE", {"subResource": "scale"}),
        (deployment({"sidecar-injector.io/inject": "log-shipper"}), "DELETE", {}),
    ],
    ids=["no-annotation", "inject-false", "subresource", "delete"],
)
def test_objects_that_did_not_opt_in_record_nothing(
    obj: dict[str, Any], operation: str, extra: dict[str, Any]
) -> None:
    outcome = decided(obj, operation, **extra)
    assert outcome.reason in NOT_OPTED_IN
    assert admission_occurrences(outcome) == ()


def ns_pod(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A Pod a ReplicaSet creates (no name yet), carrying only the opt-in signals given."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "web-6d8f9c7b5-", "namespace": "shop", "ownerReferences": [OWNER]},
        "spec": {
            "containers": [{"name": "app", "image": "app:1"}],
            "volumes": [{"name": "logs", "emptyDir": {}}],
        },
    }
    for key, value in (("labels", labels), ("annotations", annotations)):
        if value is not None:
            pod["metadata"][key] = value
    return pod


LABELLED = NamespaceMetadata(labels={INJECT: "log-shipper"})
ANNOTATED = NamespaceMetadata(annotations={INJECT: "log-shipper"})


@pytest.mark.parametrize(
    ("pod", "namespace"),
    [
        (ns_pod(annotations={INJECT: "log-shipper"}), NOT_LABELLED),
        (ns_pod(labels={INJECT: "log-shipper"}), NOT_LABELLED),
        (ns_pod(), LABELLED),
        (ns_pod(), ANNOTATED),
    ],
    ids=["object-annotation", "object-label", "namespace-label", "namespace-annotation"],
)
def test_objects_opted_in_by_any_path_are_reported(pod: dict[str, Any], namespace: NamespaceMetadata) -> None:
    [event] = admission_occurrences(decided(pod, namespace=namespace))
    assert event.regarding == Regarding("apps/v1", "ReplicaSet", "shop", "web-6d8f9c7b5", "rs-uid")
    assert event.reason == "Injected"
    assert event.note == f"Pod web-6d8f9c7b5-*: injected log-shipper (revision {REVISION})"


@pytest.mark.parametrize(
    ("pod", "namespace"),
    [
        (ns_pod(annotations={INJECT: "false"}), LABELLED),
        (ns_pod(labels={INJECT: "false"}), ANNOTATED),
        (ns_pod(), NamespaceMetadata(labels={INJECT: "false"})),
        (ns_pod(), NOT_LABELLED),
    ],
    ids=["pod-opts-out-of-labelled", "pod-label-opts-out", "namespace-opts-out", "no-signal"],
)
def test_objects_that_opted_out_of_a_namespace_or_never_opted_in_record_nothing(
    pod: dict[str, Any], namespace: NamespaceMetadata
) -> None:
    outcome = decided(pod, namespace=namespace)
    assert outcome.outcome == "skipped"
    assert outcome.reason in NOT_OPTED_IN
    assert admission_occurrences(outcome) == ()


def test_opted_in_skips_are_reported() -> None:
    obj = deployment({"sidecar-injector.io/inject": "log-shipper"})
    obj["spec"]["template"]["metadata"]["annotations"]["sidecar-injector.io/status"] = (
        f'{{"injected":[{{"name":"log-shipper","revision":"{REVISION}"}}]}}'
    )
    outcome = decided(obj)
    assert outcome.reason == "already-injected" and outcome.reason not in NOT_OPTED_IN
    [event] = admission_occurrences(outcome)
    assert event.note == "Not injected: already-injected"


def test_internal_errors_and_refused_envelopes_record_nothing() -> None:
    decision = AdmissionDecision(lambda: SNAPSHOT, InjectionPolicy())
    assert admission_occurrences(decision.answer(b"{not json")) == ()
    broken = AdmissionDecision(lambda: 1 / 0, InjectionPolicy())  # type: ignore[arg-type,return-value]
    outcome = broken.answer(orjson.dumps(review(deployment({"sidecar-injector.io/inject": "x"}))))
    assert outcome.outcome == "error"
    assert admission_occurrences(outcome) == ()


def test_warnings_are_bounded_per_review_and_notes_by_the_api_limit() -> None:
    outcome = decided(deployment({"sidecar-injector.io/inject": ", ".join(f"m{i}" * 60 for i in range(30))}))
    many = dataclass_replace_warnings(outcome, tuple(f"warning {i} " + "x" * 2000 for i in range(50)))
    occurrences = admission_occurrences(many)
    assert len(occurrences) == 1 + MAX_WARNING_EVENTS
    assert all(len(o.note) <= NOTE_LIMIT for o in occurrences)


def dataclass_replace_warnings(outcome: Outcome, warnings: tuple[str, ...]) -> Outcome:
    import dataclasses

    assert outcome.result is not None
    return dataclasses.replace(outcome, result=dataclasses.replace(outcome.result, warnings=warnings))


def test_identical_reviews_make_identical_occurrences() -> None:
    """What aggregation relies on: the same decision on the same object is the same occurrence."""
    obj = deployment({"sidecar-injector.io/inject": "log-shipper"})
    first = admission_occurrences(decided(obj))
    assert first == admission_occurrences(decided(copy.deepcopy(obj)))
    assert hash(first[0]) == hash(admission_occurrences(decided(obj))[0])


CONFIGMAP = Regarding("v1", "ConfigMap", "injector", "log-shipper", "cm-uid")


def test_a_rejected_edit_names_the_field_and_the_revision_in_service() -> None:
    problems = [Problem("containers[0].image", "required", 3), Problem("volumes[0]", "no source", 7)]
    error = TemplateError("ConfigMap injector/log-shipper", "template", "", "", problems=problems)
    serving = SNAPSHOT.resolve("log-shipper", "injector")
    event = template_rejected(CONFIGMAP, error, serving)
    assert event == Occurrence(CONFIGMAP, "Warning", "TemplateRejected", "Load", event.note)
    assert event.note.startswith("Key template rejected: containers[0].image: required (line 3); 1 more")
    assert "listed by sidecar-injector templates validate; revision" in event.note
    assert event.note.endswith(f"revision {REVISION} of template log-shipper stays in service")
    unserved = template_rejected(CONFIGMAP, error, None)
    assert unserved.note.endswith("no earlier version to keep: the template is not served")


def test_a_recovered_template_is_a_normal_event() -> None:
    serving = SNAPSHOT.resolve("log-shipper", "injector")
    assert serving is not None
    event = template_recovered(CONFIGMAP, serving)
    assert (event.type, event.reason, event.regarding) == ("Normal", "TemplateRecovered", CONFIGMAP)
    assert f"revision {REVISION}" in event.note


POD_MODE = InjectionPolicy(injection_mode="pod")


def decided_in_pod_mode(obj: dict[str, Any]) -> Outcome:
    decision = AdmissionDecision(lambda: SNAPSHOT, POD_MODE, namespaces=lambda _: NOT_LABELLED)
    return decision.answer(orjson.dumps(review(obj, "CREATE", namespace="shop")))


def test_a_workload_in_pod_injection_is_told_its_pods_get_the_templates_not_skipped() -> None:
    """``kubectl describe deployment`` must not show a Skipped that reads as a failure: the sidecar is
    not missing, it goes into each Pod when created."""
    outcome = decided_in_pod_mode(deployment({INJECT: "log-shipper"}))
    assert (outcome.outcome, outcome.reason) == ("skipped", "pod-injection")
    [event] = admission_occurrences(outcome)
    assert (event.type, event.reason, event.action) == ("Normal", "PodInjection", "Inject")
    assert event.note == "Not injected here: its Pods get log-shipper when they are created (pod injection)"


def test_a_pod_in_pod_injection_is_injected_as_any_pod() -> None:
    pod = opted_in_pod("log-shipper")
    pod["spec"]["volumes"] = [{"name": "logs", "emptyDir": {}}]
    pod["metadata"] = {"name": "web-1", "namespace": "shop", "annotations": {INJECT: "log-shipper"}}
    [event] = admission_occurrences(decided_in_pod_mode(pod))
    assert (event.reason, event.note) == ("Injected", f"Injected log-shipper (revision {REVISION})")


def test_a_workload_with_templates_of_both_modes_is_told_both() -> None:
    mesh = """
---
apiVersion: v1
kind: ConfigMap
metadata: {name: mesh, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    injection: workload
    containers:
    - name: proxy
      image: registry.example.com/proxy:2
"""
    snapshot = template_set(TEMPLATES + mesh)
    decision = AdmissionDecision(lambda: snapshot, POD_MODE, namespaces=lambda _: NOT_LABELLED)
    obj = deployment({INJECT: "mesh, log-shipper"})
    [event] = admission_occurrences(decision.answer(orjson.dumps(review(obj, "CREATE", namespace="shop"))))
    revision = snapshot.resolve("mesh", "shop").revision  # type: ignore[union-attr]
    assert event.reason == "Injected"
    assert event.note == (
        f"Injected mesh (revision {revision}); its Pods get log-shipper when they are created (pod injection)"
    )
