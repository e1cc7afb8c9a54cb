"""The chart's container command is one the real CLI accepts, with the settings the chart means."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.chart_helpers import CI_VALUES, NAMESPACE, one, render, require_helm
from webhook.cli import build_parser
from webhook.cli.serve import settings_from_args

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.name if p else "defaults")
def test_the_rendered_server_arguments_parse_into_the_intended_settings(
    values: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(require_helm(), [values] if values else [])
    deployment = one(docs, "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container.get("env", [])}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    monkeypatch.setenv("POD_NAMESPACE", NAMESPACE)  # what the downward API provides in the pod

    args = build_parser().parse_args(container["args"])
    settings = settings_from_args(args)
    assert settings.namespace == NAMESPACE
    assert settings.cert_file == Path("/etc/sidecar-injector/tls/tls.crt")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/etc/sidecar-injector/tls" in mounts
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert {settings.port, settings.metrics_port, settings.probe_port} <= set(ports.values())
    probes = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert [p["path"] for p in probes] == ["/readyz", "/healthz"]
    assert all(p["scheme"] == "HTTP" and ports[p["port"]] == settings.probe_port for p in probes)
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > settings.drain_seconds
    if settings.kube:
        assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is True


def test_accept_annotations_reach_the_server_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("server:\n  acceptAnnotations: [tumblr, expedia]\n")
    [container] = one(render(require_helm(), [values]), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    monkeypatch.setenv("POD_NAMESPACE", NAMESPACE)
    settings = settings_from_args(build_parser().parse_args(container["args"]))
    assert len(settings.policy.accepted_annotations) == 2
