"""`serve --kube` records Events: what ``kubectl describe`` shows for a workload and a template ConfigMap.

The server runs as a process against the fake API server, with ``POD_NAME`` set as the chart's
downward API sets it. Reads use kubectl's own field selectors on core/v1 Events.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes import FakeApiServer
from tests.fakes.builders import workload
from tests.fakes.wire import Wire
from tests.integration.test_kube_serving import LABELS, OWN, eventually, pod, serving, template

pytestmark = pytest.mark.integration

REPLICA = "sidecar-injector-7f9c6b5d4-x2x9q"


def described(api: FakeApiServer, namespace: str, kind: str, name: str, uid: str) -> list[dict[str, Any]]:
    selector = (
        f"involvedObject.name={name},involvedObject.namespace={namespace},"
        f"involvedObject.kind={kind},involvedObject.uid={uid}"
    )
    query = urllib.parse.urlencode({"fieldSelector": selector})
    items: list[dict[str, Any]] = (
        Wire(api).get(f"/api/v1/namespaces/{namespace}/events?{query}").body["items"]
    )
    return items


def reasons(api: FakeApiServer, namespace: str, kind: str, name: str, uid: str) -> list[str]:
    return [e["reason"] for e in described(api, namespace, kind, name, uid)]


@pytest.fixture
def api() -> Any:
    with FakeApiServer() as server:
        server.create_namespace("default")
        server.create_namespace(OWN)
        yield server


def test_reviews_and_template_edits_are_described_on_their_objects(
    api: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POD_NAME", REPLICA)
    api.create(OWN, "agent", template("agent:1"), LABELS)
    configmap_uid = api.get_object("configmaps", OWN, "agent")["metadata"]["uid"]
    with serving(api, tmp_path) as (admit, _, _):
        admitted = pod("agent")
        assert "patch" in admit(admitted)
        pod_uid = api.create_object(admitted)["metadata"]["uid"]  # kube-apiserver stores it after admission
        assert eventually(lambda: described(api, "default", "Pod", "p", pod_uid))
        [event] = described(api, "default", "Pod", "p", pod_uid)
        assert event["reason"] == "Injected" and event["message"].startswith("Injected agent (revision ")
        assert (event["reportingComponent"], event["reportingInstance"]) == (
            "sidecar-injector.io/injector",
            REPLICA,
        )

        api.update(OWN, "agent", data={"template": "containers: [{name: agent}]"})  # no image
        assert eventually(
            lambda: reasons(api, OWN, "ConfigMap", "agent", configmap_uid) == ["TemplateRejected"]
        )
        [rejected] = described(api, OWN, "ConfigMap", "agent", configmap_uid)
        assert rejected["type"] == "Warning"
        assert "containers[0].image" in rejected["message"]
        assert "of template agent stays in service" in rejected["message"]

        api.update(OWN, "agent", data=template("agent:2"))
        recovered = sorted(["TemplateRejected", "TemplateRecovered"])
        assert eventually(lambda: sorted(reasons(api, OWN, "ConfigMap", "agent", configmap_uid)) == recovered)


def test_no_events_records_nothing(api: FakeApiServer, tmp_path: Path) -> None:
    api.create(OWN, "agent", template("agent:1"), LABELS)
    api.create(OWN, "broken", {"template": "containers: [{name: broken}]"}, LABELS)
    with serving(api, tmp_path, "--no-events") as (admit, _, _):
        assert "patch" in admit(pod("agent"))
        assert "warnings" in admit(pod("missing"))
    # The server has stopped: with Events on, it would have sent everything queued before exiting.
    assert api.count("create", "events.events.k8s.io") == 0
    assert api.count("get", "pods") == 0


EXAMPLES = Path(__file__).parents[2] / "examples"


def kubectl(tmp_path: Path, *args: str) -> str:
    """The real kubectl, through the kubeconfig ``serving()`` wrote for the server."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl must be on PATH (scripts/check puts .tools/bin there)")
    command = [found, "--kubeconfig", str(tmp_path / "kubeconfig"), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def events_section(described: str) -> str:
    return described.split("\nEvents:", 1)[1]


def test_kubectl_describe_says_why_a_deployment_was_injected_and_why_a_template_edit_was_refused(
    api: FakeApiServer, tmp_path: Path
) -> None:
    """The issue's own test of being done, with the real kubectl describe."""
    api.create_namespace("shop")
    manifest = yaml.safe_load((EXAMPLES / "log-shipper.yaml").read_text())
    api.create(OWN, "log-shipper", manifest["data"], manifest["metadata"]["labels"])
    shop = yaml.safe_load((EXAMPLES / "app-with-log-shipper.yaml").read_text())
    shop["metadata"]["namespace"] = "shop"
    typo = copy.deepcopy(shop)
    typo["metadata"]["name"], typo["metadata"]["annotations"] = (
        "cart",
        {"sidecar-injector.io/inject": "log-shiper"},
    )
    with serving(api, tmp_path) as (admit, _, _):
        for obj in (shop, typo):
            admit(obj)
            api.create_object(copy.deepcopy(obj))  # what kube-apiserver does once admission is over
        for name, reason in (("shop", "Injected"), ("cart", "Skipped")):
            describe = ("describe", "deploy", name, "-n", "shop")
            assert eventually(lambda d=describe, r=reason: r in events_section(kubectl(tmp_path, *d)))
        shop_events = events_section(kubectl(tmp_path, "describe", "deployment", "shop", "-n", "shop"))
        assert "Normal  Injected" in shop_events and "Injected log-shipper (revision " in shop_events
        cart_events = events_section(kubectl(tmp_path, "describe", "deployment", "cart", "-n", "shop"))
        assert "Not injected: template-not-found" in cart_events
        assert "Warning  Warning" in cart_events and "'log-shiper'" in cart_events

        broken = {"template": manifest["data"]["template"].replace("image: docker.io", "imagex: docker.io")}
        api.update(OWN, "log-shipper", data=broken)
        describe_configmap = ("describe", "configmap", "log-shipper", "-n", OWN)
        assert eventually(
            lambda: "TemplateRejected" in events_section(kubectl(tmp_path, *describe_configmap))
        )
        refused = events_section(kubectl(tmp_path, *describe_configmap))
        assert "Warning  TemplateRejected" in refused and "containers[0]" in refused
        assert "stays in service" in refused


def replica_set_pod(
    api: FakeApiServer, name: str, namespace: str, annotations: dict[str, str]
) -> dict[str, Any]:
    """A Pod as a ReplicaSet creates it (no name yet), its stored ReplicaSet as the controller owner."""
    rs = api.create_object(workload("ReplicaSet", name, namespace))
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": rs["metadata"]["uid"]}
    metadata = {"generateName": f"{name}-", "namespace": namespace, "annotations": annotations}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**metadata, "ownerReferences": [{**owner, "controller": True}]},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }


def test_a_pod_of_a_labelled_namespace_is_described_on_its_replicaset_and_opted_out_ones_are_not(
    api: FakeApiServer, tmp_path: Path
) -> None:
    """Namespace opt-in is an opt-in like any other: the Pod's Event goes on its owner. A Pod that
    opts out of its namespace's label, and one in a namespace without it, get none."""
    api.create(OWN, "agent", template("agent:1"), LABELS)
    api.create_namespace("shop", {"sidecar-injector.io/inject": "agent"})
    injected = replica_set_pod(api, "web-6d8f9c7b5", "shop", {})
    opted_out = replica_set_pod(api, "batch-5c4b3a291", "shop", {"sidecar-injector.io/inject": "false"})
    elsewhere = replica_set_pod(api, "web-7e9a8d6c4", "default", {})
    with serving(api, tmp_path) as (admit, _, _):
        assert "patch" in admit(injected)
        assert "patch" not in admit(opted_out) and "patch" not in admit(elsewhere)
        describe = ("describe", "replicaset", "web-6d8f9c7b5", "-n", "shop")
        assert eventually(lambda: "Injected" in events_section(kubectl(tmp_path, *describe)))
        shown = events_section(kubectl(tmp_path, *describe))
        assert "Normal  Injected" in shown and "Pod web-6d8f9c7b5-*: injected agent (revision " in shown
    # The server has stopped, after sending everything queued.
    regarding = [e["regarding"]["name"] for e in Wire(api).get("/apis/events.k8s.io/v1/events").body["items"]]
    assert regarding == ["web-6d8f9c7b5"]
