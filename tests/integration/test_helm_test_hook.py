"""`helm test` without a cluster: the chart's test hook, rendered, run against real servers.

The hook Pod runs files/helm-test.py (shipped in a hook ConfigMap) with the injector's own image.
Here the rendered script runs with the rendered Pod's environment, only the Service URL and the CA
path pointing at a local `serve` instead: `serve --kube` against the fake API server, where the
rendered test template ConfigMap is created the way the hook creates it (after the server started),
and `serve` with its bundled templates for templates.source=files. It must pass against them and
fail, with the reason, when the template never appears or the CA is not the server's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes import FakeApiServer
from tests.integration.chart_helpers import NAMESPACE, one, render, require_helm
from tests.support.processes import RunningServer, cli, running_server

pytestmark = pytest.mark.integration


def hook_objects(*sets: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The rendered test Pod and the hook ConfigMaps by name."""
    docs = render(require_helm(), sets=list(sets))
    hooks = [d for d in docs if (d["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
    pod = one(hooks, "Pod")
    return pod, {d["metadata"]["name"]: d for d in hooks if d["kind"] == "ConfigMap"}


def run_hook(
    pod: dict[str, Any], configmaps: dict[str, dict[str, Any]], tmp_path: Path, **overrides: str
) -> subprocess.CompletedProcess[str]:
    """Run the hook's command as the Pod would, with its script file and environment."""
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["python", "/helm-test/helm-test.py"]
    [script_volume] = [v for v in pod["spec"]["volumes"] if v["name"] == "script"]
    script = configmaps[script_volume["configMap"]["name"]]["data"]["helm-test.py"]
    (tmp_path / "helm-test.py").write_text(script)
    env = {item["name"]: item["value"] for item in container["env"]} | overrides
    return subprocess.run(
        [sys.executable, str(tmp_path / "helm-test.py")],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer().start()
    yield server
    server.stop()


def certificates(directory: Path) -> Path:
    cli(
        "certs",
        "generate",
        "--service",
        "s",
        "--namespace",
        NAMESPACE,
        "--out",
        str(directory),
        "--extra-name",
        "localhost",
    )
    return directory


def kube_server(api: FakeApiServer, tmp_path: Path, certs: Path) -> Any:
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
    args = ["--kube", "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE]
    return running_server(
        [*args, "--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key")], tmp_path
    )


def local(server: RunningServer, certs: Path) -> dict[str, str]:
    return {"INJECTOR_URL": f"https://localhost:{server.port}", "CA_FILE": str(certs / "ca.crt")}


def test_the_hook_checks_an_injection_of_its_own_template_through_the_kube_source(
    api: FakeApiServer, tmp_path: Path
) -> None:
    pod, configmaps = hook_objects()
    template = configmaps[f"{pod['metadata']['name'].removesuffix('-test')}-helm-test"]
    assert template["metadata"]["labels"]["sidecar-injector.io/template"] == "true"
    certs = certificates(tmp_path / "certs")
    with kube_server(api, tmp_path, certs) as server:
        # helm test creates the hook ConfigMaps, then the Pod: the template arrives through the watch.
        api.create(NAMESPACE, template["metadata"]["name"], template["data"], template["metadata"]["labels"])
        result = run_hook(pod, configmaps, tmp_path, **local(server, certs))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok:" in result.stdout and "helm-test-probe" in result.stdout and "app" in result.stdout


def test_the_hook_uses_a_bundled_template_with_file_templates(tmp_path: Path) -> None:
    pod, configmaps = hook_objects("templates.source=files")
    assert not [name for name in configmaps if name.endswith("-helm-test")]  # nothing the server would read
    certs = certificates(tmp_path / "certs")
    args = ["--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key")]  # no folders: the bundled ones
    with running_server(args, tmp_path) as server:
        result = run_hook(pod, configmaps, tmp_path, **local(server, certs))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "log-shipper" in result.stdout


def test_the_hook_fails_with_the_reason_when_the_template_is_never_served(
    api: FakeApiServer, tmp_path: Path
) -> None:
    pod, configmaps = hook_objects()
    certs = certificates(tmp_path / "certs")
    with kube_server(api, tmp_path, certs) as server:
        result = run_hook(pod, configmaps, tmp_path, **local(server, certs), TIMEOUT_SECONDS="3")
    assert result.returncode == 1
    assert "FAILED" in result.stderr and "no patch" in result.stderr and "not found" in result.stderr


def test_the_hook_fails_when_the_server_is_not_the_one_its_ca_trusts(tmp_path: Path) -> None:
    pod, configmaps = hook_objects("templates.source=files")
    certs, stranger = certificates(tmp_path / "certs"), certificates(tmp_path / "other")
    with running_server(
        ["--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key")], tmp_path
    ) as server:
        result = run_hook(pod, configmaps, tmp_path, **local(server, stranger), TIMEOUT_SECONDS="3")
    assert result.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_the_hook_pod_runs_the_injector_image_and_only_reads_its_mounts(tmp_path: Path) -> None:
    docs = render(require_helm())
    pod, _ = hook_objects()
    [container] = pod["spec"]["containers"]
    [webhook] = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == webhook["image"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/ca", "/helm-test"}
    assert all(m["readOnly"] for m in container["volumeMounts"])
    custom, _ = hook_objects("tests.image=registry.example/tools/python-jsonpatch:1")
    assert custom["spec"]["containers"][0]["image"] == "registry.example/tools/python-jsonpatch:1"
