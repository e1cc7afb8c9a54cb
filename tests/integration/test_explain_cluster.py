"""``sidecar-injector explain KIND/NAME`` over real HTTP against the fake apiserver: it reads the
object, its Namespace and the template ConfigMaps, and answers with the server's verdict, the
object's revisions against the current ones, and the exit status a script can use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import pod, workload
from tests.support.cluster import (
    INJECTOR,
    SHOP,
    admitted,
    fake_cluster,
    opted_in,
    put_template,
    shipper_body,
    write_kubeconfig,
)
from webhook.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with fake_cluster() as server:
        yield server


@pytest.fixture
def kubeconfig(fake: FakeApiServer, tmp_path: Path) -> Path:
    return write_kubeconfig(fake, tmp_path / "kubeconfig")


def explain(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[dict[str, Any]], str]:
    """Exit status, the reports of ``-o json``, and standard error."""
    code = main(
        ["explain", "--kubeconfig", str(kubeconfig), "--injector-namespace", INJECTOR, "-o", "json", *args]
    )
    out = capsys.readouterr()
    return code, json.loads(out.out)["items"] if out.out else [], out.err


def test_an_injected_workload_at_the_current_revision_exits_0(
    fake: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    fake.create_object(admitted(fake, opted_in(workload("Deployment", "web", SHOP), "log-shipper")))

    code, [report], err = explain(kubeconfig, capsys, "deployment/web")

    assert (code, err) == (0, "")
    assert report["verdict"] == {"outcome": "skipped", "reason": "already-injected", "message": ""}
    assert report["live"] is True
    [load] = report["templates"]
    assert load["status"] == "loaded" and load["source"] == f"ConfigMap {INJECTOR}/log-shipper"
    assert report["status"] == [
        {
            "template": "log-shipper",
            "state": "current",
            "running": [load["revision"]],
            "current": load["revision"],
        }
    ]
    added = report["added"]["log-shipper"]
    assert added["containers"] == ["log-shipper"] and added["volumes"] == ["shipper-buffer"]
    assert added["env"] == {"app": ["LOG_SHIPPER"]}


def test_an_outdated_workload_exits_3_with_both_revisions(
    fake: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    fake.create_object(admitted(fake, opted_in(workload("Deployment", "web", SHOP), "log-shipper")))
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.2"))

    code, [report], _ = explain(kubeconfig, capsys, "deploy/web")

    assert code == 3 and report["exitCode"] == 3
    [state] = report["status"]
    assert state["state"] == "outdated" and state["running"] != [state["current"]]
    assert state["current"] == report["templates"][0]["revision"]


def test_an_opt_out_over_a_namespace_opt_in_is_skipped_and_exits_2(
    fake: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    fake.create_namespace("labelled", {"sidecar-injector.io/inject": "log-shipper"})
    tools = pod("tools", "labelled")
    tools["metadata"]["annotations"] = {"sidecar-injector.io/inject": "false"}
    fake.create_object(tools)

    code, [report], _ = explain(kubeconfig, capsys, "-n", "labelled", "pod/tools")

    assert code == 2
    assert report["verdict"]["reason"] == "opted-out"
    signals = report["optIn"]["signals"]
    assert [(s["source"], s["decides"]) for s in signals] == [
        ("object annotation", True),
        ("namespace label", False),
    ]
    assert report["optIn"]["disagreements"] and report["added"] == {}


def test_a_namespace_opt_in_alone_would_inject_a_pod_created_without_the_webhook(
    fake: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fake has no webhook: the Pod missed its injection, so it would be injected (the verdict)
    but the live Pod is not at the current revision (exit 3)."""
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    fake.create_namespace("labelled", {"sidecar-injector.io/inject": "log-shipper"})
    fake.create_object(pod("debug", "labelled"))

    code, [report], _ = explain(kubeconfig, capsys, "-n", "labelled", "pod/debug")

    assert report["verdict"]["outcome"] == "injected"
    assert report["optIn"]["decidedBy"] == "namespace label"
    assert report["added"]["log-shipper"]["containers"] == ["log-shipper"]
    assert [s["state"] for s in report["status"]] == ["missing-injection"]
    assert code == 3


def test_a_rejected_template_configmap_is_reported_with_every_problem(
    fake: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_template(fake, "log-shipper", "containers:\n- name: Bad_Name\n  image: ''\n  bogus: 1\n")
    fake.create_object(opted_in(workload("Deployment", "web", SHOP), "log-shipper"))

    code, [report], _ = explain(kubeconfig, capsys, "deployment/web")

    [load] = report["templates"]
    assert load["status"] == "rejected"
    assert load["source"] == f"ConfigMap {INJECTOR}/log-shipper, key 'template'"
    assert len(load["problems"]) >= 2 and all("Bad_Name" in p or "line" in p for p in load["problems"])
    assert "keeps the last good revision" in load["note"]
    # Read fresh, nothing of the template is served: the verdict is computed without it, and the
    # rejected template's live state is unknown, not "gone".
    assert report["verdict"]["reason"] == "template-not-found"
    assert code == 2


def test_several_objects_exit_with_the_highest_status_and_errors_are_lines(
    fake: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    fake.create_object(admitted(fake, opted_in(workload("Deployment", "web", SHOP), "log-shipper")))
    fake.create_object(workload("Deployment", "plain", SHOP))

    code, reports, _ = explain(kubeconfig, capsys, "deployment/web", "deployment/plain")
    assert code == 2 and [r["exitCode"] for r in reports] == [0, 2]

    code, reports, err = explain(kubeconfig, capsys, "deployment/web", "deployment/missing")
    assert code == 1 and len(reports) == 1
    assert err == f"error: Deployment {SHOP}/missing not found\n"

    code, reports, err = explain(kubeconfig, capsys, "service/web")
    assert (code, reports) == (1, []) and err.startswith("error: service/web: expected KIND/NAME")


def test_the_human_report_of_a_live_object(
    fake: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    fake.create_object(admitted(fake, opted_in(workload("Deployment", "web", SHOP), "log-shipper")))
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.2"))
    code = main(
        ["explain", "--kubeconfig", str(kubeconfig), "--injector-namespace", INJECTOR, "deployment/web"]
    )
    text = capsys.readouterr().out
    assert code == 3
    lines = text.splitlines()
    assert lines[0] == f"Deployment {SHOP}/web: skipped (reason: already-injected)"
    assert (
        "    pod-template annotation: sidecar-injector.io/inject: 'log-shipper' -> log-shipper (decides)"
        in lines
    )
    assert "  status against the current templates:" in lines
    assert any(line.startswith("    log-shipper: outdated (running ") for line in lines)
