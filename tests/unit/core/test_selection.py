from __future__ import annotations

import dataclasses

from webhook.core import AdmissionFacts, InjectionPolicy
from webhook.core.optin import requested_names
from webhook.core.selection import Selection, Skip, read_status, select_templates
from webhook.core.status import InjectionStatus, StatusEntry, render_status

POLICY = InjectionPolicy()


def facts(kind: str = "Pod", operation: str = "CREATE", sub_resource: str = "") -> AdmissionFacts:
    return AdmissionFacts("u", operation, kind, "ns", sub_resource=sub_resource)


def test_names_come_from_the_native_list_then_legacy_annotations_in_order() -> None:
    annotations = {
        "sidecar-injector.io/inject": " b, a ,,c",
        "initializer.kubernetes.io/logging-agent": "True",
        "initializer.kubernetes.io/off": "false",
    }
    assert requested_names(annotations, POLICY) == ["b", "a", "c", "logging-agent"]
    assert requested_names(annotations, InjectionPolicy(legacy_annotations=False)) == ["b", "a", "c"]


def test_templates_already_in_the_status_are_not_requested_again() -> None:
    status = render_status(InjectionStatus((StatusEntry("a", "r1"),))).text
    pod = {
        "metadata": {
            "annotations": {"sidecar-injector.io/inject": "a,b", "sidecar-injector.io/status": status}
        }
    }
    selection = select_templates(pod, pod, facts(), POLICY)
    assert isinstance(selection, Selection)
    assert selection.names == ("b",)
    assert selection.already_injected == {"a": "r1"}


def test_an_unreadable_status_is_reported_and_not_trusted() -> None:
    for value in ("{not json", '{"injected": ' + "[" * 5000 + "]" * 5000 + "}"):
        status, warnings = read_status({"sidecar-injector.io/status": value}, POLICY)
        assert status == InjectionStatus()
        assert warnings


def test_each_skip_has_a_stable_reason() -> None:
    opted = {"metadata": {"annotations": {"sidecar-injector.io/inject": "a"}}}
    assert select_templates(opted, opted, facts(operation="DELETE"), POLICY) == Skip("operation-not-handled")
    assert select_templates(opted, opted, facts(kind="Service"), POLICY) == Skip("kind-not-handled")
    assert select_templates(opted, opted, facts(operation="UPDATE"), POLICY) == Skip("pod-update")
    job = {"metadata": {}, "spec": {"template": opted}}
    assert select_templates(job, opted, facts("Job", "UPDATE"), POLICY) == Skip("job-update")
    assert isinstance(select_templates(job, opted, facts("Job"), POLICY), Selection)
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "CronJob"):
        assert isinstance(select_templates(opted, opted, facts(kind, "UPDATE"), POLICY), Selection), kind
    for sub_resource in ("status", "scale", "ephemeralcontainers"):
        assert select_templates(opted, opted, facts("Deployment", "UPDATE", sub_resource), POLICY) == Skip(
            "subresource"
        )
    assert select_templates({}, {}, facts(), POLICY) == Skip("not-requested")
    deleting = {"metadata": {**opted["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert select_templates(deleting, deleting, facts(), POLICY) == Skip("being-deleted")


def test_the_policy_keys_follow_its_prefix_also_when_replaced() -> None:
    """The annotation keys are built once per policy (read several times per review)."""
    policy = InjectionPolicy(annotation_prefix="inject.example.com")
    keys = ("inject", "status", "target-containers", "overrides")
    built = (
        policy.inject_annotation,
        policy.status_annotation,
        policy.target_containers_annotation,
        policy.overrides_annotation,
    )
    assert built == tuple(f"inject.example.com/{key}" for key in keys)
    replaced = dataclasses.replace(policy, annotation_prefix="other.io")
    assert replaced.status_annotation == "other.io/status"
    assert replaced == InjectionPolicy(annotation_prefix="other.io") != policy
