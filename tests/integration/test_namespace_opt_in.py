"""Namespace opt-in end to end: `serve --kube` over HTTPS, namespaces and templates at the fake API.

A platform team labels a namespace; a Pod created there without any annotation gets the template;
the Pod's own opt-out wins; the namespace's annotation lists several templates; and every change
reaches the server through its namespace watch, without a restart.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeApiServer
from tests.integration.test_kube_serving import LABELS, OWN, eventually, serving, template

pytestmark = pytest.mark.integration

INJECT = "sidecar-injector.io/inject"
TEAM = "shop"


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        yield server


def plain_pod(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web", "namespace": TEAM}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }


def sidecars(response: dict[str, Any]) -> list[str]:
    """The containers the patch appends, in order."""
    if "patch" not in response:
        return []
    ops = json.loads(base64.b64decode(response["patch"]))
    added = []
    for op in ops:
        if op["path"] == "/spec/containers/-":
            added.append(op["value"]["name"])
    return added


def test_a_labelled_namespace_injects_its_pods_and_a_pod_opts_out(api: FakeApiServer, tmp_path: Path) -> None:
    api.create(OWN, "agent", template("agent:1"), LABELS)
    api.create(OWN, "proxy", {"template": "containers:\n- name: proxy\n  image: proxy:1\n"}, LABELS)
    api.create_namespace(TEAM)
    with serving(api, tmp_path) as (admit, _, _):
        assert sidecars(admit(plain_pod())) == []  # not labelled yet: not opted in

        api.label_namespace(TEAM, {INJECT: "agent"})
        assert eventually(lambda: sidecars(admit(plain_pod())) == ["agent"]), "the label reaches the server"

        response = admit(plain_pod({INJECT: "false"}))
        assert "patch" not in response and response["allowed"] is True

        # The annotation lists several templates, in order, and wins over the label.
        api.patch_object("namespaces", None, TEAM, {"metadata": {"annotations": {INJECT: "proxy, agent"}}})
        assert eventually(lambda: sidecars(admit(plain_pod())) == ["proxy", "agent"])

        api.label_namespace(TEAM, {})
        api.patch_object("namespaces", None, TEAM, {"metadata": {"annotations": None}})
        assert eventually(lambda: sidecars(admit(plain_pod())) == []), "opt-in removed"


TAILORED = """\
overridable: [resources, image]
targetContainers: [app]
containers:
- name: agent
  image: "agent:$[labels.agent-version|1]"
  args: ["--service=$[labels.app]", "--pod=$[name]"]
  resources: {requests: {memory: 32Mi}, limits: {memory: 64Mi}}
env: [{name: AGENT, value: "$[namespace]"}]
"""


def test_serve_applies_variables_overrides_and_target_containers(api: FakeApiServer, tmp_path: Path) -> None:
    """The server's policy carries the edge's readers: YAML overrides are read and checked there."""
    api.create(OWN, "agent", {"template": TAILORED}, LABELS)
    api.create_namespace(TEAM, {INJECT: "agent"})
    obj = plain_pod({"sidecar-injector.io/overrides": "agent:\n  resources: {limits: {memory: 128Mi}}\n"})
    obj["metadata"]["labels"] = {"app": "cart", "agent-version": "2"}
    obj["spec"]["containers"].append({"name": "helper", "image": "helper:1"})
    with serving(api, tmp_path) as (admit, _, _):
        ops = json.loads(base64.b64decode(admit(obj)["patch"]))
        [agent] = [op["value"] for op in ops if op["path"] == "/spec/containers/-"]
        assert agent["image"] == "agent:2" and agent["args"] == ["--service=cart", "--pod=web"]
        assert agent["resources"] == {"requests": {"memory": "32Mi"}, "limits": {"memory": "128Mi"}}
        env = [op for op in ops if op["path"].endswith("/env")]
        assert [op["path"] for op in env] == ["/spec/containers/0/env"]  # the helper is not a target
        assert env[0]["value"] == [{"name": "AGENT", "value": TEAM}]

        obj["metadata"]["annotations"]["sidecar-injector.io/overrides"] = (
            "agent: {resources: {limits: {memory: 1Mi}}}"
        )
        denied = admit(obj)
        assert denied["allowed"] is False and denied["status"]["reason"] == "override-rejected"
        del obj["metadata"]["labels"]["app"]
        obj["metadata"]["annotations"].pop("sidecar-injector.io/overrides")
        denied = admit(obj)
        assert (
            denied["status"]["reason"] == "variable-unresolved"
            and "labels.app" in denied["status"]["message"]
        )
