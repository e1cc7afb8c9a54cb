"""``sidecar-injector import`` as a process: the installed entry point, its streams and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.processes import cli

pytestmark = pytest.mark.integration

CASE = "tests/golden-import/expedia-two-sidecar-configmaps-in-the-pods-namespace"


def test_import_prints_templates_that_templates_validate_accepts(tmp_path: Path) -> None:
    imported = cli("import", "--from", "expedia", f"{CASE}/sidecar-configmaps.yaml", f"{CASE}/pod.yaml")
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(imported.stdout)] == ["tracing", "log-agent-v2"]
    assert 'set sidecar-injector.io/inject: "tracing, log-agent-v2"' in imported.stderr
    (tmp_path / "imported.yaml").write_text(imported.stdout)
    validated = cli("templates", "validate", str(tmp_path))
    assert validated.stdout.count("ok: template") == 2


def test_an_unreadable_file_exits_1_with_one_line_and_no_traceback() -> None:
    result = cli("import", "--from", "salesforce", "no/such/file.yaml", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "error: no/such/file.yaml: cannot read it: No such file or directory\n"
