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
