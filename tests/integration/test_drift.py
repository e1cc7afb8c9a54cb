"""``sidecar-injector drift`` over real HTTP against the fake apiserver: after a template change it
shows which workloads run the old revision, which miss an injection, and which run a template that
is gone, per workload with its Pods counted, and per bare Pod."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

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
from webhook.core.status import InjectionStatus, StatusEntry, render_status

pytestmark = pytest.mark.integration


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with fake_cluster("other") as server:
        yield server


def deploy(fake: FakeApiServer, obj: dict[str, Any]) -> None:
    fake.create_object(admitted(fake, obj))
    resource = {"Deployment": "deployments.apps", "StatefulSet": "statefulsets.apps"}[obj["kind"]]
    fake.complete_rollout(resource, obj["metadata"]["namespace"], obj["metadata"]["name"])


def drift(kubeconfig: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit status and standard output; standard error must be empty when it succeeds."""
    code = main(["drift", "--kubeconfig", str(kubeconfig), "--injector-namespace", INJECTOR, *args])
    out = capsys.readouterr()
    assert code != 0 or out.err == "", out.err
    if code:
        print(out.err, end="", file=sys.stderr)  # for the test to read again
    return code, out.out


def test_drift_shows_each_workload_and_bare_pod_in_its_state(
    fake: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = write_kubeconfig(fake, tmp_path / "kubeconfig")
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    put_template(fake, "mesh", "injection: pod\ncontainers:\n- name: proxy\n  image: proxy:1\n")
    deploy(fake, opted_in(workload("Deployment", "web", SHOP), "log-shipper"))
    deploy(fake, opted_in(workload("StatefulSet", "db", SHOP, replicas=1), "log-shipper"))
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.2"))  # the security fix
    deploy(fake, opted_in(workload("Deployment", "api", SHOP), "log-shipper"))
    # Pod injection, but its Pods were created while the webhook was down (the fake has no webhook).
    deploy(fake, opted_in(workload("Deployment", "cart", SHOP, replicas=3), "mesh"))
    deploy(fake, workload("Deployment", "plain", SHOP))
    gone = pod("debug", SHOP)
    status = render_status(InjectionStatus((StatusEntry("old-agent", "0123456789abcdef"),))).text
    gone["metadata"]["annotations"] = {"sidecar-injector.io/status": status}
    fake.create_object(gone)
    deploy(fake, opted_in(workload("Deployment", "elsewhere", "other"), "log-shipper"))

    code, out = drift(kubeconfig, capsys, "-n", SHOP, "-o", "json")

    assert code == 0
    report = json.loads(out)
    rows = {(i["kind"], i["name"], i["template"]): i for i in report["items"]}
    assert {key: row["state"] for key, row in rows.items()} == {
        ("Deployment", "api", "log-shipper"): "current",
        ("Deployment", "cart", "mesh"): "missing-injection",
        ("Deployment", "web", "log-shipper"): "outdated",
        ("Pod", "debug", "old-agent"): "template-gone",
        ("StatefulSet", "db", "log-shipper"): "outdated",
    }
    web, api = rows[("Deployment", "web", "log-shipper")], rows[("Deployment", "api", "log-shipper")]
    assert web["running"] != api["running"] and web["current"] == api["current"] == api["running"][0]
    assert web["pods"] == {"outdated": 2} and web["mode"] == "workload"
    assert rows[("Deployment", "cart", "mesh")]["pods"] == {"missing-injection": 3}
    assert rows[("Pod", "debug", "old-agent")]["current"] is None
    assert report["summary"] == {"current": 1, "outdated": 2, "missing-injection": 1, "template-gone": 1}

    code, everywhere = drift(kubeconfig, capsys, "-A", "-o", "yaml")
    assert {(i["namespace"], i["name"]) for i in yaml.safe_load(everywhere)["items"]} >= {
        ("other", "elsewhere"),
        (SHOP, "web"),
    }


def test_a_namespace_opt_in_alone_is_an_opt_in_for_drift(
    fake: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Opted in is the server's decision (core/optin.py), the namespace's label included: Pods
    created while the webhook was down in a labelled namespace miss their injection."""
    kubeconfig = write_kubeconfig(fake, tmp_path / "kubeconfig")
    put_template(fake, "mesh", "injection: pod\ncontainers:\n- name: proxy\n  image: proxy:1\n")
    fake.create_namespace("labelled", {"sidecar-injector.io/inject": "mesh"})
    deploy(fake, workload("Deployment", "web", "labelled"))  # no opt-in of its own, not injected
    fake.create_object(pod("debug", "labelled"))
    out_out = pod("tools", "labelled")
    out_out["metadata"]["annotations"] = {"sidecar-injector.io/inject": "false"}
    fake.create_object(out_out)

    code, out = drift(kubeconfig, capsys, "-n", "labelled", "-o", "json")

    assert code == 0
    rows = {(i["kind"], i["name"], i["template"]): i for i in json.loads(out)["items"]}
    assert {key: row["state"] for key, row in rows.items()} == {
        ("Deployment", "web", "mesh"): "missing-injection",
        ("Pod", "debug", "mesh"): "missing-injection",
    }
    assert rows[("Deployment", "web", "mesh")]["pods"] == {"missing-injection": 2}
    _, everywhere = drift(kubeconfig, capsys, "-A", "-o", "json")
    assert len(json.loads(everywhere)["items"]) == 2
    _, ignored = drift(kubeconfig, capsys, "-n", "labelled", "--no-namespace-opt-in", "-o", "json")
    assert json.loads(ignored)["items"] == []


def test_the_table_names_the_state_and_revisions_of_each_row(
    fake: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = write_kubeconfig(fake, tmp_path / "kubeconfig")
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    deploy(fake, opted_in(workload("Deployment", "web", SHOP), "log-shipper"))

    _, before = drift(kubeconfig, capsys)
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.2"))
    _, after = drift(kubeconfig, capsys)

    header, row = before.splitlines()[:2]
    assert header.split() == [
        "NAMESPACE",
        "WORKLOAD",
        "TEMPLATE",
        "MODE",
        "STATE",
        "RUNNING",
        "CURRENT",
        "PODS",
    ]
    assert row.split()[:5] == [SHOP, "Deployment/web", "log-shipper", "workload", "current"]
    assert after.splitlines()[1].split()[4] == "outdated"
    assert after.rstrip().endswith("1 row(s): 1 outdated")


def test_drift_without_credentials_or_with_a_forbidden_list_says_why(
    fake: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = write_kubeconfig(fake, tmp_path / "kubeconfig")
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    fake.forbid("pods")
    code, _ = drift(kubeconfig, capsys)
    assert code == 1
    assert "cannot list workloads and Pods: HTTP 403 Forbidden" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="cannot reach the Kubernetes API"):
        main(["drift", "--kubeconfig", str(tmp_path / "missing")])
