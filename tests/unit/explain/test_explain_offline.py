"""``explain --templates DIR -f FILE`` offline: exit statuses, Namespaces in the input, a template
folder's rejected template, and what is not a workload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.cli import main

EXAMPLES = Path(__file__).parents[3] / "examples"


def explain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], documents: list[Any], *flags: str
) -> tuple[int, Any, str]:
    (tmp_path / "input.yaml").write_text(yaml.safe_dump_all(documents))
    templates = tmp_path / "templates"
    if not templates.exists():
        templates.mkdir()
        (templates / "log-shipper.yaml").write_text((EXAMPLES / "log-shipper.yaml").read_text())
    code = main(
        ["explain", "--templates", str(templates), "-f", str(tmp_path / "input.yaml"), "-o", "json", *flags]
    )
    out = capsys.readouterr()
    return code, json.loads(out.out)["items"] if out.out.strip() else None, out.err


def deployment(name: str, namespace: str = "shop", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            },
        },
    }


INJECT = "sidecar-injector.io/inject"


def test_an_opted_in_workload_would_be_injected_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, [report], _ = explain(tmp_path, capsys, [deployment("web", **{INJECT: "log-shipper"})])
    assert code == 0 and report["verdict"]["outcome"] == "injected" and report["live"] is False
    assert report["added"]["log-shipper"]["volumeMounts"] == {"app": ["/var/log/app"]}
    assert "status" not in report  # offline: no live state to compare


def test_a_namespace_in_the_input_opts_in_and_several_objects_exit_with_the_highest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {INJECT: "log-shipper"}},
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    documents = [namespace, service, deployment("web"), deployment("other", "elsewhere")]
    code, reports, err = explain(tmp_path, capsys, documents)
    assert [r["object"]["name"] for r in reports] == ["web", "other"]
    assert reports[0]["optIn"]["decidedBy"] == "namespace label" and reports[0]["exitCode"] == 0
    assert reports[1]["verdict"]["reason"] == "not-requested" and reports[1]["exitCode"] == 2
    assert code == 2
    assert "note: Service 'web' has no pod template; not explained" in err


def test_a_rejected_template_in_the_folder_is_reported_with_its_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "log-shipper", "labels": {"sidecar-injector.io/template": "true"}},
        "data": {"template": "containers:\n- name: Shipper\n"},
    }
    (templates / "broken.yaml").write_text(yaml.safe_dump(configmap))
    code, [report], _ = explain(tmp_path, capsys, [deployment("web", **{INJECT: "log-shipper"})])
    [load] = report["templates"]
    assert load["status"] == "rejected" and str(templates / "broken.yaml") in load["source"]
    assert any("containers[0].name" in problem for problem in load["problems"])
    assert any("containers[0].image" in problem for problem in load["problems"])
    assert code == 2


def test_unreadable_input_and_wrong_arguments_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "--templates", str(EXAMPLES), "-f", str(tmp_path / "missing.yaml")]) == 1
    assert "error: cannot read" in capsys.readouterr().err
    (tmp_path / "config.yaml").write_text("kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n")
    assert main(["explain", "--templates", str(EXAMPLES), "-f", str(tmp_path / "config.yaml")]) == 1
    assert "no workload or Pod to explain" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", "-f", str(tmp_path / "config.yaml")])
    assert exit_info.value.code == 2  # argparse's usage error: -f needs --templates
