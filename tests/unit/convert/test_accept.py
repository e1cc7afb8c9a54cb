"""Accepted annotations go through ``core.optin.decide``: the same sources, the same precedence, on
pods and pod templates only (the old injectors never read a Deployment's own metadata)."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.convert.accept import accepted_annotations
from webhook.core import InjectionPolicy
from webhook.core.optin import Source, decide

POLICY = InjectionPolicy(accepted_annotations=accepted_annotations(["tumblr", "expedia"]))
TUMBLR = {"injector.tumblr.com/request": "Logger:v1.2"}
EXPEDIA = {"sidecar-injector.expedia.com/inject": "tracing, log-agent.v2"}


def pod(annotations: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations, "labels": labels or {}}, "spec": {"containers": []}}


def deployment(own: dict[str, str], template: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"annotations": own}, "spec": {"template": pod(template)}}


def test_a_pods_tumblr_request_names_the_imported_template() -> None:
    decision = decide(pod(TUMBLR), "Pod", None, POLICY)
    assert decision.templates == ("logger-v1-2",)
    assert decision.decided_by is not None and decision.decided_by.source is Source.OBJECT_ANNOTATION
    assert "injector.tumblr.com/request: 'Logger:v1.2'" in decision.decided_by.written


def test_expedia_names_become_template_names_in_order_after_ours() -> None:
    annotations = {**EXPEDIA, "sidecar-injector.io/inject": "agent"}
    assert decide(pod(annotations), "Pod", None, POLICY).templates == ("agent", "tracing", "log-agent-v2")


def test_only_the_pod_template_counts_on_a_workload() -> None:
    assert decide(deployment(TUMBLR, {}), "Deployment", None, POLICY).templates == ()
    assert decide(deployment({}, TUMBLR), "Deployment", None, POLICY).templates == ("logger-v1-2",)


@pytest.mark.parametrize(
    ("annotations", "labels"),
    [
        ({**TUMBLR, "injector.tumblr.com/status": "injected"}, {}),
        (EXPEDIA, {"sidecar-injector.expedia.com/inject": "skip"}),
        (EXPEDIA, {"sidecar-injector.expedia.com/disable-inject": "true"}),
    ],
)
def test_what_the_old_injector_skipped_asks_for_nothing(
    annotations: dict[str, str], labels: dict[str, str]
) -> None:
    assert decide(pod(annotations, labels), "Pod", None, POLICY).signals == ()


def test_off_by_default_and_an_object_label_still_outranks_a_pod_template_request() -> None:
    assert decide(pod(TUMBLR), "Pod", None, InjectionPolicy()).signals == ()
    workload = deployment({}, TUMBLR)
    workload["metadata"]["labels"] = {"sidecar-injector.io/inject": "false"}
    assert decide(workload, "Deployment", None, POLICY).opted_out


def test_salesforce_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="cannot be accepted"):
        accepted_annotations(["salesforce"])
