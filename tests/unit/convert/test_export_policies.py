"""``export mutating-admission-policy``: every golden case's templates exported, validated against the
1.36 and 1.37 schemas, every expression compiled, and each policy evaluated on the case's input
(``policy_evaluation``: kube-apiserver's matching and mutation order, with a CEL implementation
from PyPI) to the same object as the engine's.

Cases not evaluated, and why, are listed in NOT_EVALUATED; cases whose result differs because of a
loss the export states are listed in STATED_LOSSES with the field that differs. A test keeps both
lists exact, so a case the export starts to get right (or wrong) fails until the list is updated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.templates import template_set
from tests.unit.convert.policy_evaluation import Request, compile_expression, expressions, without_nulls
from webhook.convert.export import KUBERNETES_VERSIONS, ExportResult, export_policies
from webhook.core import InjectionPolicy
from webhook.core.status import InjectionStatus, parse_status
from webhook.core.workloads import SUPPORTED_KINDS

GOLDEN = Path(__file__).parents[2] / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
NO_POD_OBJECT = "no pod object: the policy's rules match CREATE and UPDATE of workloads only"
DENIED = "the engine refuses the object; a mutating policy cannot refuse"
SEVERAL = (
    "several templates in one request: the API server runs policies in its own order, not the "
    "annotation's (a stated loss)"
)
REFUSED = "its template is refused by the export (see test_templates_the_export_refuses)"
NOT_EVALUATED = {
    "connect-without-object-is-admitted": NO_POD_OBJECT,
    "delete-without-object-is-admitted": NO_POD_OBJECT,
    "scale-subresource-is-not-mutated": NO_POD_OBJECT,
    "deployment-pod-security-conflict-denied-by-policy": DENIED,
    "invalid-containers-denied": DENIED,
    "missing-template-denied-by-policy": DENIED,
    "override-of-a-field-not-overridable-denied": DENIED,
    "override-of-an-unknown-container-denied": DENIED,
    "override-with-an-invalid-value-denied": DENIED,
    "overrides-annotation-not-a-map-denied": DENIED,
    "sidecar-mount-without-volume-denied": DENIED,
    "template-mount-without-volume-denied": DENIED,
    "variable-without-value-denied": DENIED,
    "init-containers-first-native-sidecar-job": SEVERAL,
    "namespace-annotation-opt-in-deployment": SEVERAL,
    "pod-injection-checks-what-the-pods-will-get": DENIED,
    "pod-without-volumes": SEVERAL,
    "several-templates-in-order": SEVERAL,
    "overrides-image-and-env-deployment": REFUSED,
    "variables-deployment": REFUSED,
    "variables-pod-from-a-replicaset": REFUSED,
}
STATUS = "sidecar-injector.io/status"
STATED_LOSSES = {
    "mount-paths-compare-normalised": ("spec", "template", "spec", "containers"),  # compared as written
    "overrides-resources-pod": ("spec", "containers"),  # the overrides annotation is not read
    "target-containers-annotation-pod": ("spec", "containers"),  # nor the target-containers annotation
    # pod injection: the copy extends the pod template's opt-in as written
    "pod-injection-copy-replaces-an-overridden-pod-template-opt-in": (
        "spec",
        "template",
        "metadata",
        "annotations",
        "sidecar-injector.io/inject",
    ),
}
STATUS_LOSSES = {
    # the API server drops a null list before a policy sees it: the status has no wasNull
    "pod-with-null-volumes": ("metadata",),
    # two templates on one object: created paths in the order the policies ran
    "pod-injection-by-the-server-default": ("spec", "template", "metadata"),
}


def load(case: str) -> tuple[dict[str, Any], Any, dict[str, Any], ExportResult]:
    folder = GOLDEN / case
    spec = yaml.safe_load((folder / "case.yaml").read_text())
    obj = yaml.safe_load((folder / "object.yaml").read_text())
    response = yaml.safe_load((folder / "response.yaml").read_text())
    templates = template_set((folder / "templates.yaml").read_text()).templates.values()
    return spec, obj, response, export_policies(templates, InjectionPolicy(**spec.get("policy", {})))


def why_not_evaluated(case: str) -> str | None:
    _, obj, response, result = load(case)
    if not isinstance(obj, dict) or obj.get("kind") not in SUPPORTED_KINDS:
        return NO_POD_OBJECT
    if not response["allowed"]:
        return DENIED
    if result.refused:
        return REFUSED
    if len(response.get("injected") or []) > 1:
        return SEVERAL
    return None


def policies(result: ExportResult) -> list[dict[str, Any]]:
    return [exported.objects[0] for exported in result.exported]


def evaluate(case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The object after every policy (then after them all again: reinvocation), and the engine's."""
    spec, obj, _, result = load(case)
    request = spec.get("request", {})
    admission = Request(
        obj,
        request.get("operation", "CREATE"),
        request.get("namespace", "default"),
        request.get("namespaceLabels", {}),
        request.get("namespaceAnnotations", {}),
        request.get("subResource", ""),
    )
    for policy in policies(result):
        admission.apply(policy)
    once = admission.object
    for policy in policies(result):
        assert not admission.apply(policy), f"{policy['metadata']['name']} matched its own result again"
    assert admission.object == once
    mutated = GOLDEN / case / "mutated.yaml"
    engine = yaml.safe_load(mutated.read_text()) if mutated.exists() else obj
    return once, without_nulls(engine)


@pytest.mark.parametrize("case", CASES)
def test_every_exported_object_is_valid_for_kubernetes_1_36_and_1_37(case: str) -> None:
    *_, result = load(case)
    for exported in result.exported:
        for obj in exported.objects:
            for version in KUBERNETES_VERSIONS:
                kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("case", CASES)
def test_every_expression_compiles(case: str) -> None:
    *_, result = load(case)
    for policy in policies(result):
        for expression in expressions(policy):
            compile_expression(expression)


def test_the_cases_not_evaluated_are_exactly_those_listed_and_for_that_reason() -> None:
    found = {case: why_not_evaluated(case) for case in CASES}
    assert {case: reason for case, reason in found.items() if reason} == NOT_EVALUATED


EXACT = [c for c in CASES if c not in NOT_EVALUATED and c not in STATED_LOSSES and c not in STATUS_LOSSES]


@pytest.mark.parametrize("case", EXACT)
def test_the_policies_give_the_object_the_engine_gives(case: str) -> None:
    policy_result, engine_result = evaluate(case)
    assert policy_result == engine_result


@pytest.mark.parametrize("case", sorted(STATED_LOSSES))
def test_a_stated_loss_is_where_the_policies_differ_from_the_engine(case: str) -> None:
    policy_result, engine_result = evaluate(case)
    *parents, field = STATED_LOSSES[case]
    for token in parents:
        policy_result, engine_result = policy_result[token], engine_result[token]
    assert policy_result.pop(field) != engine_result.pop(field)
    assert policy_result == engine_result  # nothing else of that object differs


@pytest.mark.parametrize("case", sorted(STATUS_LOSSES))
def test_a_status_annotation_differs_by_its_stated_loss_only(case: str) -> None:
    """The engine's status without wasNull, its created paths in the order the policies ran: exactly
    the policies' status; the rest of the object is the engine's."""
    policy_result, engine_result = evaluate(case)
    policy_metadata, engine_metadata = policy_result, engine_result
    for token in STATUS_LOSSES[case]:
        policy_metadata, engine_metadata = policy_metadata[token], engine_metadata[token]
    policy_status = json.loads(policy_metadata["annotations"].pop(STATUS))
    engine_status = json.loads(engine_metadata["annotations"].pop(STATUS))
    assert policy_result == engine_result
    assert policy_status != engine_status
    assert "wasNull" not in policy_status
    engine_status.pop("wasNull", None)
    created = policy_status.pop("created", [])
    assert sorted(created) == sorted(engine_status.pop("created", []))
    assert policy_status == engine_status


def test_policies_see_the_webhooks_status_and_the_webhook_sees_theirs() -> None:
    """A Pod of a pod-injection workload carries the copied opt-in in a webhook's status: the policy
    keeps it and adds its entry, which the engine's parser reads with what the template added."""
    policy_result, _ = evaluate("pod-injection-pod-of-a-deployment")
    status = parse_status(policy_result["metadata"]["annotations"][STATUS])
    assert isinstance(status, InjectionStatus)
    assert status.copied == (("sidecar-injector.io/inject", None),)
    [entry] = status.entries
    assert entry.name == "log-shipper" and entry.added is not None
    assert entry.added.init_containers == ("log-shipper",)
    assert entry.added.env == (("web", ("LOG_DIR",)),)
