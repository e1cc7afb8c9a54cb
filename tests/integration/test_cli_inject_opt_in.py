"""`inject` (offline) with namespace opt-in, precedence warnings, overrides and variables: the same
core as the webhook, with Namespace objects of the input standing for the cluster's namespaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.processes import cli
from tests.support.validation import assert_valid

pytestmark = pytest.mark.integration

INJECT = "sidecar-injector.io/inject"
TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata: {name: agent, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    overridable: [resources, image]
    containers:
    - name: agent
      image: "registry.example.com/agent:$[labels.agent-version|2.1]"
      args: ["--service=$[labels.app|unknown]"]
      resources: {requests: {memory: 32Mi}, limits: {memory: 64Mi}}
"""


def inject(tmp_path: Path, documents: list[dict[str, Any]], *flags: str) -> tuple[list[Any], str]:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / "agent.yaml").write_text(TEMPLATE)
    manifests = tmp_path / "in.yaml"
    manifests.write_text(yaml.safe_dump_all(documents))
    done = cli("inject", "--templates", str(folder), "-f", str(manifests), *flags)
    return list(yaml.safe_load_all(done.stdout)), done.stderr


def namespace(
    name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> Any:
    metadata: dict[str, Any] = {"name": name, "labels": labels or {}}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def pod(name: str, space: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": space, **metadata},
        "spec": {"containers": [{"name": "web", "image": "web:1"}]},
    }


def containers(obj: dict[str, Any]) -> list[str]:
    return [c["name"] for c in obj["spec"]["containers"]]


def test_a_namespace_in_the_input_opts_its_pods_in_and_disagreements_are_warned(tmp_path: Path) -> None:
    out, stderr = inject(
        tmp_path,
        [
            namespace("shop", {INJECT: "agent"}),
            pod("plain", "shop", labels={"app": "cart"}),
            pod("out", "shop", labels={INJECT: "false"}),
            pod("elsewhere", "default"),
        ],
    )
    plain, out_pod, elsewhere = out[1:]
    assert containers(plain) == ["web", "agent"]
    assert plain["spec"]["containers"][1]["args"] == ["--service=cart"]
    assert containers(out_pod) == containers(elsewhere) == ["web"]
    assert stderr == (
        f"warning: Pod out: object label {INJECT}=false (opt out) overrides namespace label {INJECT}=agent (agent)\n"
    )
    assert_valid(plain)


def test_a_namespace_annotated_without_the_label_is_warned_about(tmp_path: Path) -> None:
    out, stderr = inject(tmp_path, [namespace("shop", annotations={INJECT: "agent"}), pod("p", "shop")])
    assert containers(out[1]) == ["web", "agent"]  # the server itself honours the annotation...
    assert stderr.startswith(f"warning: Namespace shop: opts in by the annotation {INJECT} alone")
    assert "the chart sends its objects only once it is also labelled" in stderr  # ...the routing cannot


def test_without_namespace_opt_in_namespaces_inject_nothing(tmp_path: Path) -> None:
    out, stderr = inject(
        tmp_path, [namespace("shop", {INJECT: "agent"}), pod("p", "shop")], "--no-namespace-opt-in"
    )
    assert containers(out[1]) == ["web"] and stderr == ""


def test_yaml_overrides_are_read_and_checked_offline_too(tmp_path: Path) -> None:
    overrides = "agent:\n  resources: {limits: {memory: 128Mi}}\n  image: registry.example.com/agent:2.2\n"
    out, _ = inject(
        tmp_path,
        [pod("p", "default", annotations={INJECT: "agent", "sidecar-injector.io/overrides": overrides})],
    )
    agent = out[0]["spec"]["containers"][1]
    assert agent["image"] == "registry.example.com/agent:2.2"
    assert agent["resources"] == {"requests": {"memory": "32Mi"}, "limits": {"memory": "128Mi"}}

    bad = "agent: {resources: {limits: {memory: 16Mi}}}"
    folder = tmp_path / "bad.yaml"
    folder.write_text(
        yaml.safe_dump(
            pod("p", "default", annotations={INJECT: "agent", "sidecar-injector.io/overrides": bad})
        )
    )
    done = cli("inject", "--templates", str(tmp_path / "templates"), "-f", str(folder), check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: template 'agent', container 'agent': invalid override: field 'resources'"
    )
    assert done.stderr.rstrip().endswith("(override-rejected)")
