"""What ``inject`` and ``templates validate`` say about broken and duplicate templates: once, and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import REPO, cli

pytestmark = pytest.mark.integration

SEED = (REPO / "examples" / "helloworld-with-annotation.yaml").read_text()
AGENT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: logging-agent-initializer
data:
  config: |
    containers:
    - name: logging-agent
      image: {image}
"""
BROKEN = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
  labels: {sidecar-injector.io/template: "true"}
data:
  template: |
    containers:
    - name: agent
      image: agent:1
      resources: {limits: {memory: lots}}
    volumes:
    - {name: v, emptyDir: {}, hostPath: {path: /x}}
"""


def test_a_broken_template_is_reported_once_by_inject_with_its_lines(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(AGENT.format(image="fluentd:1"))
    (tmp_path / "broken.yaml").write_text(BROKEN)
    result = cli("inject", "--templates", str(tmp_path), "-f", "-", input=SEED)
    path = tmp_path / "broken.yaml"
    assert result.stderr.count("resources.limits.memory") == 1, result.stderr
    assert (
        f"{path}:11: containers[0].resources.limits.memory: 'lots' is not a valid quantity" in result.stderr
    )
    assert f"{path}:13: volumes[0].hostPath: may not specify more than one volume source" in result.stderr
    assert "logging-agent" in result.stdout  # the good template is still injected


def test_duplicate_templates_name_both_files_and_the_one_that_wins(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(AGENT.format(image="fluentd:a"))
    (tmp_path / "b.yaml").write_text(AGENT.format(image="fluentd:b"))
    result = cli("inject", "--templates", str(tmp_path), "-f", "-", input=SEED)
    [warning] = [line for line in result.stderr.splitlines() if "defined twice" in line]
    assert warning == (
        f"warning: template 'logging-agent' is defined twice: {tmp_path / 'a.yaml'}: ConfigMap "
        f"logging-agent-initializer key config is served, {tmp_path / 'b.yaml'}: ConfigMap "
        "logging-agent-initializer key config is ignored (the first by source, then file or ConfigMap name, wins)"
    )
    assert "#0" not in result.stderr
    assert "fluentd:a" in result.stdout and "fluentd:b" not in result.stdout


def test_templates_validate_lists_every_problem_with_its_file_line(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    result = cli("templates", "validate", str(tmp_path), check=False)
    assert result.returncode == 1
    path = tmp_path / "broken.yaml"
    # One complete line per problem: file and line, ConfigMap, key, field and message.
    where = "ConfigMap broken, key 'template'"
    lines = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert lines[0].startswith(f"error: {path}:11: {where}: containers[0].resources.limits.memory: ")
    assert lines[1].startswith(f"error: {path}:13: {where}: volumes[0].hostPath: ")
    assert len(lines) == 2


FOREIGN = {
    "tumblr": "golden-import/tumblr-pod-level-fields-are-not-imported/sidecars-configmap.yaml",
    "salesforce": "golden-import/salesforce-two-mutation-configs-from-the-chart-configmap/webhook-configmap.yaml",
    "expedia": "golden-import/expedia-two-sidecar-configmaps-in-the-pods-namespace/sidecar-configmaps.yaml",
}


@pytest.mark.parametrize("source_format", sorted(FOREIGN))
def test_templates_validate_points_another_injectors_configmap_to_import(
    tmp_path: Path, source_format: str
) -> None:
    """Beside a good template, the foreign ConfigMap still fails the folder and names the command."""
    (tmp_path / "agent.yaml").write_text(AGENT.format(image="fluentd:1"))
    foreign = tmp_path / "old.yaml"
    foreign.write_text((REPO / "tests" / FOREIGN[source_format]).read_text())
    result = cli("templates", "validate", str(tmp_path), check=False)
    assert result.returncode == 1, result.stdout
    assert "ok: template 'logging-agent'" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "injector, not a template" in line]
    assert lines, result.stdout
    for line in lines:
        assert line.startswith(f"error: {foreign}: ConfigMap "), line
        assert f"is a configuration of the {source_format} injector" in line
        assert f"sidecar-injector import --from {source_format} {foreign}" in line


def test_templates_validate_names_a_folder_of_foreign_configmaps_only_once_per_configmap(
    tmp_path: Path,
) -> None:
    (tmp_path / "old.yaml").write_text((REPO / "tests" / FOREIGN["expedia"]).read_text())
    result = cli("templates", "validate", str(tmp_path), check=False)
    assert result.returncode == 1
    assert "no templates found" not in result.stdout  # the foreign ConfigMaps are the explanation
    assert "'tracing'" in result.stdout and "'log-agent.v2'" in result.stdout, result.stdout
    assert result.stdout.count("of the expedia injector") == result.stdout.count("error:") == 2
