"""``sidecar-injector export mutating-admission-policy`` as a process: streams, comments, exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.support.processes import REPO, cli
from webhook.cli import export as export_cli
from webhook.convert import export

pytestmark = pytest.mark.integration

VARIABLES = REPO / "tests" / "golden" / "variables-deployment" / "templates.yaml"


def test_the_cli_offers_the_versions_the_exporter_knows() -> None:
    assert export_cli.KUBERNETES_VERSIONS == export.KUBERNETES_VERSIONS


@pytest.mark.parametrize("version", export.KUBERNETES_VERSIONS)
def test_examples_export_to_valid_policies_with_their_losses_in_comments(
    tmp_path: Path, version: str
) -> None:
    shutil.copy(REPO / "examples" / "log-shipper.yaml", tmp_path)
    shutil.copy(REPO / "examples" / "logging-agent-initializer.yaml", tmp_path)
    result = cli(
        "export", "mutating-admission-policy", "--templates", str(tmp_path), "--kubernetes-version", version
    )
    documents = list(yaml.safe_load_all(result.stdout))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [
        ("MutatingAdmissionPolicy", "sidecar-injector-log-shipper"),
        ("MutatingAdmissionPolicyBinding", "sidecar-injector-log-shipper"),
        ("MutatingAdmissionPolicy", "sidecar-injector-logging-agent"),
        ("MutatingAdmissionPolicyBinding", "sidecar-injector-logging-agent"),
    ]
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)
    for loss in export.LOSSES:
        assert result.stdout.count(f"# Not as the webhook does it: {loss}.") == 2
        assert result.stderr.count(loss) == 2
    assert "*id" not in result.stdout  # no YAML aliases for a reader to follow
    assert result.stderr.endswith("2 exported, 0 refused\n")


def test_a_template_with_variables_is_refused_and_the_others_still_exported(tmp_path: Path) -> None:
    shutil.copy(REPO / "examples" / "log-shipper.yaml", tmp_path)
    shutil.copy(VARIABLES, tmp_path / "variables.yaml")
    result = cli("export", "mutating-admission-policy", "--templates", str(tmp_path))
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(result.stdout)]
    assert names == ["sidecar-injector-log-shipper"] * 2
    [refused] = [line for line in result.stderr.splitlines() if line.startswith("refused:")]
    assert (
        "template agent" in refused and "$[...] variables" in refused and "keep it on the webhook" in refused
    )
    assert result.stderr.endswith("1 exported, 1 refused\n")


def test_nothing_to_export_exits_1(tmp_path: Path) -> None:
    shutil.copy(VARIABLES, tmp_path / "variables.yaml")
    result = cli("export", "mutating-admission-policy", "--templates", str(tmp_path), check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    missing = cli("export", "mutating-admission-policy", "--templates", str(tmp_path / "none"), check=False)
    assert (missing.returncode, missing.stderr) == (1, f"error: {tmp_path / 'none'}: no such folder\n")


def test_injection_mode_pod_exports_pod_injection_for_templates_that_do_not_choose(tmp_path: Path) -> None:
    """As serve's --injection-mode: the native template without an injection field is exported for
    Pods (and the opt-in copy), with that loss stated; the legacy template keeps workload injection."""
    shutil.copy(REPO / "examples" / "logging-agent-initializer.yaml", tmp_path)
    (tmp_path / "agent.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "agent", "labels": {"sidecar-injector.io/template": "true"}},
                "data": {"template": "containers:\n- name: agent\n  image: registry.example.com/agent:1\n"},
            }
        )
    )
    by_mode = {}
    for mode in ("workload", "pod"):
        result = cli(
            "export", "mutating-admission-policy", "--templates", str(tmp_path), "--injection-mode", mode
        )
        by_mode[mode] = result
    pod = by_mode["pod"]
    assert pod.stderr.count(export.POD_INJECTION_LOSS) == 1
    assert f"warning: template agent: {export.POD_INJECTION_LOSS}" in pod.stderr
    assert export.POD_INJECTION_LOSS not in by_mode["workload"].stderr
    policies = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(pod.stdout)
        if d["kind"] == "MutatingAdmissionPolicy"
    }
    opted_in = next(
        c for c in policies["sidecar-injector-agent"]["spec"]["matchConditions"] if c["name"] == "opted-in"
    )
    assert opted_in["expression"].startswith('((object.kind == "Pod")')
    legacy = policies["sidecar-injector-logging-agent"]["spec"]["matchConditions"]
    assert not any(c["expression"].startswith('((object.kind == "Pod")') for c in legacy)
