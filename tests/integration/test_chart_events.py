"""The chart's Events: on by default with the API template source, RBAC only while on, POD_NAME set."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.chart_helpers import (
    NAMESPACE,
    by_kind,
    helm_run,
    one,
    render,
    require_helm,
    template_args,
)
from webhook.cli import build_parser
from webhook.cli.serve import settings_from_args

pytestmark = pytest.mark.integration

EVENT_WRITES = {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]}


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [main] = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return main


def events_role(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in by_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("-events")]


def reviewed_resources(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """What any webhook entry (one per opt-in path) sends for review."""
    return {
        (group, resource)
        for webhook in one(docs, "MutatingWebhookConfiguration")["webhooks"]
        for rule in webhook["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


def test_events_are_on_by_default_with_writes_to_events_and_reads_of_what_the_webhook_reviews() -> None:
    docs = render(require_helm())
    [role] = events_role(docs)
    assert role["rules"][0] == EVENT_WRITES
    reads = role["rules"][1:]
    assert all(rule["verbs"] == ["get"] for rule in reads)  # no list, no watch, no writes
    granted = {
        (group, resource) for rule in reads for group in rule["apiGroups"] for resource in rule["resources"]
    }
    assert granted == reviewed_resources(docs)  # the uid of exactly the objects it gets reviews of
    [binding] = [
        b for b in by_kind(docs, "ClusterRoleBinding") if b["roleRef"]["name"] == role["metadata"]["name"]
    ]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": one(docs, "ServiceAccount")["metadata"]["name"],
            "namespace": NAMESPACE,
        }
    ]
    assert "--no-events" not in container(docs)["args"]


@pytest.mark.parametrize(
    ("sets", "recorded"),
    [((), True), (("events.enabled=false",), False), (("templates.source=files",), False)],
    ids=["defaults", "off", "files"],
)
def test_the_rendered_server_records_events_exactly_when_the_role_exists(
    sets: tuple[str, ...], recorded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(require_helm(), sets=list(sets))
    assert len(events_role(docs)) == (1 if recorded else 0)
    main = container(docs)
    env = {e["name"]: e for e in main["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    monkeypatch.setenv("POD_NAME", "sidecar-injector-abc12-xyz89")
    settings = settings_from_args(build_parser().parse_args(main["args"]))
    assert settings.records_events is recorded
    assert settings.events_instance == "sidecar-injector-abc12-xyz89"


def test_an_unknown_events_value_is_refused() -> None:
    result = helm_run(require_helm(), *template_args(sets=["events.enable=false"]))
    assert result.returncode != 0 and "enable" in result.stderr
