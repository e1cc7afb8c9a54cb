"""`serve --kube` end to end: ConfigMaps at the (fake) API server become the answers of the webhook."""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.fakes import FakeApiServer
from tests.support.processes import RunningServer, cli, https_request, running_server
from tests.support.reviews import review
from webhook.core.pod_security import ENFORCE_LABEL

pytestmark = pytest.mark.integration

OWN, TENANT = "injector", "team-a"
LABELS = {"sidecar-injector.io/template": "true"}


def template(image: str) -> dict[str, str]:
    return {"template": f"containers:\n- name: agent\n  image: {image}\n"}


def pod(annotation: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": namespace,
            "annotations": {"sidecar-injector.io/inject": annotation},
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer().start()
    yield server
    server.stop()


Admit = Callable[[dict[str, Any]], dict[str, Any]]
Get = Callable[[str], Any]


@contextlib.contextmanager
def serving(
    api: FakeApiServer, tmp_path: Path, *extra: str, wait_ready: bool = True
) -> Iterator[tuple[Admit, Get, RunningServer]]:
    """`serve --kube` against ``api`` with a kubeconfig and certificates of its own, plus ``extra`` flags."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": api.host}}],
                "users": [{"name": "injector", "user": {"token": "not-checked"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "injector"}}],
            }
        )
    )
    cli(
        "certs",
        "generate",
        "--service",
        "sidecar-injector",
        "--namespace",
        OWN,
        "--out",
        str(tmp_path),
        "--extra-name",
        "localhost",
    )
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    args = [
        "--kube",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        OWN,
        "--watch-namespace",
        TENANT,
        "--cert",
        str(tmp_path / "tls.crt"),
        "--key",
        str(tmp_path / "tls.key"),
        *extra,
    ]
    with running_server(args, tmp_path, context) as server:

        def admit(obj: dict[str, Any]) -> dict[str, Any]:
            answer = https_request(
                "POST",
                f"https://127.0.0.1:{server.port}/mutate",
                context,
                "localhost",
                content=json.dumps(review(obj, namespace=obj["metadata"]["namespace"])),
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == 200
            response: dict[str, Any] = answer.json()["response"]
            return response

        def get(path: str) -> Any:
            return https_request("GET", f"https://127.0.0.1:{server.port}{path}", context, "localhost")

        if wait_ready:
            assert eventually(lambda: get("/readyz").status_code == 200), server.log()
        yield admit, get, server
        assert server.stop() == 0, server.log()


@pytest.fixture
def webhook(api: FakeApiServer, tmp_path: Path) -> Iterator[tuple[Admit, Get, RunningServer]]:
    api.create(OWN, "agent", template("agent:1"), LABELS)
    with serving(api, tmp_path) as started:
        yield started


def image_injected(response: dict[str, Any]) -> str | None:
    if "patch" not in response:
        return None
    ops = json.loads(base64.b64decode(response["patch"]))
    return next((op["value"]["image"] for op in ops if op["path"] == "/spec/containers/-"), None)


def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_configmap_changes_at_the_api_are_served_without_a_restart(api: FakeApiServer, webhook) -> None:  # type: ignore[no-untyped-def]
    admit, get, server = webhook
    assert get("/readyz").status_code == 200
    assert image_injected(admit(pod("agent"))) == "agent:1"

    api.update(OWN, "agent", data=template("agent:2"))
    assert eventually(lambda: image_injected(admit(pod("agent"))) == "agent:2")

    api.update(OWN, "agent", data={"template": "containers: [{name: agent}]"})  # no image: broken
    assert eventually(lambda: any(t["lastError"] for t in get("/templates").json()["templates"]))
    assert image_injected(admit(pod("agent"))) == "agent:2", "the last good version stays in service"
    assert "an injected container needs an image" in server.log()

    api.delete(OWN, "agent")
    response = eventually(lambda: (r := admit(pod("agent"))).get("warnings") and r)
    assert "not found" in response["warnings"][0] and "patch" not in response


EXAMPLES = Path(__file__).parents[2] / "examples"


def test_templates_that_exist_before_the_start_are_served_from_the_first_review(
    api: FakeApiServer, tmp_path: Path
) -> None:
    """After every restart or rollout of the injector its templates already exist at the API."""
    for file in ("logging-agent-initializer.yaml", "log-shipper.yaml"):
        manifest = yaml.safe_load((EXAMPLES / file).read_text())
        api.create(OWN, manifest["metadata"]["name"], manifest["data"], manifest["metadata"].get("labels"))
    api.create(OWN, "typo-initializer", {"conf": "containers: []"})  # looks like ours: must be listed
    seed = yaml.safe_load((EXAMPLES / "helloworld-with-annotation.yaml").read_text())
    seed["metadata"]["namespace"] = "default"
    with serving(api, tmp_path) as (admit, get, _):
        response = admit(seed)  # the very first review after /readyz turned 200
        ops = json.loads(base64.b64decode(response["patch"]))
        added = [op["value"]["name"] for op in ops if op["path"] == "/spec/template/spec/containers/-"]
        assert added == ["logging-agent"]
        ops = json.loads(base64.b64decode(admit(pod("log-shipper"))["patch"]))
        assert [op["value"][0]["name"] for op in ops if op["path"] == "/spec/initContainers"] == [
            "log-shipper"
        ]
        rows = {row["document"]: row for row in get("/templates").json()["templates"]}
    assert rows[f"ConfigMap {OWN}/logging-agent-initializer key config"]["serving"]
    assert rows[f"ConfigMap {OWN}/log-shipper key template"]["serving"]
    typo = rows[f"ConfigMap {OWN}/typo-initializer key config"]
    assert not typo["serving"] and "no string key 'config'" in typo["lastError"]


def test_a_tenant_template_serves_only_its_own_namespace(api: FakeApiServer, webhook) -> None:  # type: ignore[no-untyped-def]
    admit, _, _ = webhook
    restricted = (
        "containers:\n- name: agent\n  image: tenant:1\n  securityContext:\n    runAsNonRoot: true\n"
        "    allowPrivilegeEscalation: false\n    capabilities: {drop: [ALL]}\n    seccompProfile: {type: RuntimeDefault}\n"
    )
    api.create(TENANT, "tenant-agent", {"template": restricted}, LABELS)
    assert eventually(lambda: image_injected(admit(pod("tenant-agent", TENANT))) == "tenant:1")
    assert image_injected(admit(pod("tenant-agent", "team-b"))) is None


def deployment(namespace: str) -> dict[str, Any]:
    template = pod("agent", namespace)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": template["metadata"]["annotations"]},
                "spec": template["spec"],
            },
        },
    }


def counter(server: RunningServer, name: str, **labels: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and line.split("{", 1)[1].split("}")[0] == wanted:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


CONFLICTS = "sidecar_injector_pod_security_conflicts_total"


def test_namespace_pod_security_labels_are_watched_and_checked(api: FakeApiServer, tmp_path: Path) -> None:
    api.create_namespace(TENANT, {ENFORCE_LABEL: "restricted"})
    api.create_namespace("default")
    api.create(OWN, "agent", template("agent:1"), LABELS)  # no securityContext: needs baseline
    with serving(api, tmp_path) as (admit, _, server):
        response = admit(deployment(TENANT))
        assert image_injected_into_template(response) == "agent:1"
        assert response["warnings"][0] == (
            "template 'agent' needs Pod Security level 'baseline' but namespace 'team-a' enforces "
            "'restricted': its pods will be rejected"
        )
        assert "warnings" not in admit(deployment("default"))  # unlabelled: privileged by default
        assert counter(server, CONFLICTS, template="agent", action="warned") == 1

        api.label_namespace(TENANT, {ENFORCE_LABEL: "baseline"})
        assert eventually(lambda: "warnings" not in admit(deployment(TENANT)))
        assert counter(server, CONFLICTS, template="agent", action="warned") == 1
    namespace_requests = [r for r in api.requests if r.path == "/api/v1/namespaces"]
    assert namespace_requests and {r.params.get("labelSelector") for r in namespace_requests} == {None}


def test_without_namespace_opt_in_only_enforced_namespaces_travel(api: FakeApiServer, tmp_path: Path) -> None:
    api.create(OWN, "agent", template("agent:1"), LABELS)
    with serving(api, tmp_path, "--no-namespace-opt-in"):
        pass
    namespace_requests = [r for r in api.requests if r.path == "/api/v1/namespaces"]
    assert namespace_requests and {r.params.get("labelSelector") for r in namespace_requests} == {
        ENFORCE_LABEL
    }


def test_deny_mode_refuses_the_workload_and_waits_for_the_levels(api: FakeApiServer, tmp_path: Path) -> None:
    api.create_namespace(TENANT, {ENFORCE_LABEL: "restricted"})
    api.create(OWN, "agent", template("agent:1"), LABELS)
    with serving(api, tmp_path, "--pod-security-check", "deny") as (admit, _, server):
        response = admit(deployment(TENANT))
        assert response["allowed"] is False
        assert response["status"]["code"] == 403
        assert response["status"]["reason"] == "pod-security"
        assert "containers[0]: seccompProfile" in response["status"]["message"]
        assert counter(server, CONFLICTS, template="agent", action="denied") == 1
        assert counter(server, "sidecar_injector_reviews_total", outcome="denied", reason="pod-security") == 1


def test_with_the_check_and_namespace_opt_in_off_namespaces_are_not_watched(
    api: FakeApiServer, tmp_path: Path
) -> None:
    api.create_namespace(TENANT, {ENFORCE_LABEL: "restricted"})
    api.create(OWN, "agent", template("agent:1"), LABELS)
    with serving(api, tmp_path, "--pod-security-check", "off", "--no-namespace-opt-in") as (admit, _, _):
        assert "warnings" not in admit(deployment(TENANT))
    assert not [r for r in api.requests if r.path == "/api/v1/namespaces"]


def image_injected_into_template(response: dict[str, Any]) -> str | None:
    ops = json.loads(base64.b64decode(response["patch"]))
    path = "/spec/template/spec/containers/-"
    return next((op["value"]["image"] for op in ops if op["path"] == path), None)


def test_without_rbac_for_namespaces_readiness_says_why_until_it_is_granted(
    api: FakeApiServer, tmp_path: Path
) -> None:
    api.create(OWN, "agent", template("agent:1"), LABELS)
    api.forbid("namespaces")
    with serving(api, tmp_path, wait_ready=False) as (_, get, server):
        assert eventually(lambda: "watch namespaces: list failed: HTTP 403 Forbidden" in server.log())

        # The templates load on a thread of their own and may still be parsing (a loaded machine):
        # once they are in, the forbidden watch is what keeps the server unready, and /readyz says so.
        def unready_for_namespaces() -> Any:
            answer = get("/readyz")
            return answer if "namespace labels and annotations not loaded yet" in answer.text else None

        answer = eventually(unready_for_namespaces)
        assert answer is not None, get("/readyz").text
        assert answer.status_code == 503
        api.forbid("namespaces", False)
        assert eventually(lambda: get("/readyz").status_code == 200, within=20)
