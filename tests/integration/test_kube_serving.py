"""`serve --kube` end to end: ConfigMaps at the (fake) API server become the answers of the webhook."""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes import FakeApiServer
from tests.support.processes import cli, https_request, running_server
from tests.support.reviews import review

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


@pytest.fixture
def webhook(api: FakeApiServer, tmp_path: Path):  # type: ignore[no-untyped-def]
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
    api.create(OWN, "agent", template("agent:1"), LABELS)
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
            return answer.json()["response"]

        def get(path: str) -> Any:
            return https_request("GET", f"https://127.0.0.1:{server.port}{path}", context, "localhost")

        yield admit, get, server
        assert server.stop() == 0, server.log()


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


def test_a_tenant_template_serves_only_its_own_namespace(api: FakeApiServer, webhook) -> None:  # type: ignore[no-untyped-def]
    admit, _, _ = webhook
    restricted = (
        "containers:\n- name: agent\n  image: tenant:1\n  securityContext:\n    runAsNonRoot: true\n"
        "    allowPrivilegeEscalation: false\n    capabilities: {drop: [ALL]}\n    seccompProfile: {type: RuntimeDefault}\n"
    )
    api.create(TENANT, "tenant-agent", {"template": restricted}, LABELS)
    assert eventually(lambda: image_injected(admit(pod("tenant-agent", TENANT))) == "tenant:1")
    assert image_injected(admit(pod("tenant-agent", "team-b"))) is None
