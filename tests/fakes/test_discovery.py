"""Discovery documents, and the real kubectl reading the fake through them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.fakes import FakeApiServer
from tests.fakes.builders import deployment, event_v1
from tests.fakes.conftest import NS
from tests.fakes.wire import Wire

pytestmark = pytest.mark.integration


def test_the_core_and_group_documents_list_every_served_resource(wire: Wire) -> None:
    assert wire.get("/api").body["versions"] == ["v1"]
    groups = {g["name"]: g["preferredVersion"]["groupVersion"] for g in wire.get("/apis").body["groups"]}
    assert groups == {
        "events.k8s.io": "events.k8s.io/v1",
        "apps": "apps/v1",
        "batch": "batch/v1",
        "coordination.k8s.io": "coordination.k8s.io/v1",
    }
    apps = wire.get("/apis/apps/v1").body
    names = {r["name"]: r for r in apps["resources"]}
    assert apps["groupVersion"] == "apps/v1"
    assert {"deployments", "deployments/status", "replicasets", "statefulsets", "daemonsets"} <= set(names)
    assert names["deployments"]["shortNames"] == ["deploy"] and names["deployments"]["namespaced"]
    core = {r["name"] for r in wire.get("/api/v1").body["resources"]}
    assert {"configmaps", "namespaces", "namespaces/finalize", "pods", "pods/status", "events"} <= core


def test_paths_that_are_not_discovery_are_still_the_routers_404(wire: Wire) -> None:
    assert wire.get("/apis/apps").status == 404
    assert wire.get("/apis/example.com/v1").status == 404


def test_kubectl_describe_lists_the_events_of_an_object(fake: FakeApiServer, tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl must be on PATH (scripts/check puts .tools/bin there)")
    target = fake.create_object(deployment("web", NS))
    fake.create_object(
        {**event_v1(NS, target, note="seen by kubectl"), "metadata": {"namespace": NS, "name": "e"}}
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": fake.host}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
    }
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    command = [
        kubectl,
        "--kubeconfig",
        str(tmp_path / "kubeconfig"),
        "describe",
        "deployment",
        "web",
        "-n",
        NS,
    ]
    described = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert described.returncode == 0, described.stderr
    events = described.stdout.split("\nEvents:\n", 1)[1]
    assert "Injected" in events and "sidecar-injector.io/injector" in events and "seen by kubectl" in events
