"""Everyday mistakes at the CLI end in one clear line (exit 1) or a warning, never a traceback or silence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.processes import REPO, cli, free_port

pytestmark = pytest.mark.integration

SHOP = (REPO / "examples" / "app-with-log-shipper.yaml").read_text()


def assert_one_line_error(result: object, message: str) -> None:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 1, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [message]


@pytest.mark.parametrize(
    "folder, problem", [("no-such-folder", "no such folder"), ("README.md", "not a folder")]
)
def test_inject_with_a_templates_folder_that_is_missing_or_a_file_is_one_error_line(
    folder: str, problem: str
) -> None:
    result = cli("inject", "--templates", folder, "-f", "-", input=SHOP, check=False)
    assert_one_line_error(result, f"error: --templates {folder}: {problem}")
    assert result.stdout == ""


NOT_AN_OBJECT = "not a Kubernetes object (a mapping with apiVersion, kind and metadata)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("- a\n- b\n", f"line 1: the document is a list, {NOT_AN_OBJECT}"),
        ("just words\n", f"line 1: the document is a string, {NOT_AN_OBJECT}"),
        (f"{SHOP}---\n[1, 2]\n", f"line {SHOP.count(chr(10)) + 2}: the document is a list, {NOT_AN_OBJECT}"),
        ("kind: List\nitems:\n- 1\n", "line 3: kind List: items[0] is a number, not a Kubernetes object"),
    ],
)
def test_inject_of_a_document_that_is_not_an_object_is_one_error_line_naming_the_line(
    text: str, message: str
) -> None:
    result = cli("inject", "--templates", "examples", "-f", "-", input=text, check=False)
    assert_one_line_error(result, f"error: standard input: {message}")


@pytest.mark.parametrize("text", ["", "\n", "# just a comment\n---\n"])
def test_inject_of_an_empty_input_is_an_error_as_kubectl_apply_makes_it(text: str, tmp_path: Path) -> None:
    result = cli("inject", "--templates", "examples", "-f", "-", input=text, check=False)
    assert_one_line_error(result, "error: standard input: no Kubernetes objects in the input")
    empty = tmp_path / "empty.yaml"
    empty.write_text(text)
    from_file = cli("inject", "--templates", "examples", "-f", str(empty), check=False)
    assert_one_line_error(from_file, f"error: {empty}: no Kubernetes objects in the input")


def test_inject_warns_when_an_object_that_cannot_hold_a_sidecar_asks_for_one() -> None:
    service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\n  annotations:\n"
        "    sidecar-injector.io/inject: log-shipper\n    initializer.kubernetes.io/logging-agent: 'true'\n"
        "spec: {ports: [{port: 80}]}\n"
    )
    result = cli("inject", "--templates", "examples", "-f", "-", input=service)
    assert result.stderr.splitlines() == [
        "warning: Service shop: asks for 'log-shipper', 'logging-agent', but a Service has no pod "
        "template to inject into; left unchanged"
    ]
    assert yaml.safe_load(result.stdout) == yaml.safe_load(service)
    plain = cli(
        "inject",
        "--templates",
        "examples",
        "-f",
        "-",
        input=service.replace("sidecar-injector.io/inject", "x").replace(
            "initializer.kubernetes.io/logging-agent", "y"
        ),
    )
    assert plain.stderr == "", "an object that asks for nothing gets no warning"


def test_validating_a_folder_without_templates_is_an_error_that_says_what_a_template_is(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.yaml").write_text(SHOP)
    result = cli("templates", "validate", "examples", str(tmp_path), check=False)
    assert result.returncode == 1
    assert f"error: {tmp_path}: no templates found (a template is a ConfigMap labelled " in result.stdout
    assert "ok: template 'log-shipper'" in result.stdout, "the other folder is still checked"
    missing = cli("templates", "validate", str(tmp_path / "nope"), check=False)
    assert (missing.returncode, missing.stdout) == (1, f"error: {tmp_path / 'nope'}: no such folder\n")


def test_inject_warns_when_a_templates_folder_holds_no_templates(tmp_path: Path) -> None:
    result = cli("inject", "--templates", str(tmp_path), "-f", "-", input=SHOP)
    assert f"warning: --templates {tmp_path}: no templates found" in result.stderr


@pytest.mark.parametrize(
    "folder, problem", [("no-such-folder", "no such folder"), ("README.md", "not a folder")]
)
def test_serve_with_a_templates_folder_that_is_missing_or_a_file_stops_at_once(
    folder: str, problem: str
) -> None:
    result = cli(
        "serve", "--templates", folder, "--port", str(free_port()), "--metrics-port", "0", check=False
    )
    assert_one_line_error(result, f"error: --templates {folder}: {problem}")
