"""Helpers for the Helm chart tests: find helm, render the chart, parse strictly, fake an API server.

The fake API server exists because `helm template` cannot reach a cluster, so the chart's
`lookup` of its own TLS Secret returns nothing there. `helm template --dry-run=server` runs the
real lookup against whatever the kubeconfig points at; this server answers the few requests Helm
makes (version, discovery, GETs of the objects it is about to create) from an in-memory map.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "sidecar-injector"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "inj"
NAMESPACE = "injector-system"


def find_helm() -> str | None:
    local = REPO / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("helm")


def require_helm() -> str:
    """The helm binary; skipped locally when it is missing, but a failure in CI (env CI set)."""
    helm = find_helm()
    if helm is None:
        message = "helm not found in .tools/bin or PATH: run `bash scripts/install-tools.sh`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return helm


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(text, Loader=UniqueKeyLoader) if doc]


def helm_run(helm: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    # Keep helm away from any real cluster config or user state on the machine.
    full_env.setdefault("KUBECONFIG", os.devnull)
    return subprocess.run(
        [helm, *args], capture_output=True, text=True, timeout=120, env=full_env, check=False
    )


def template_args(
    values_files: Sequence[Path] = (), sets: Sequence[str] = (), namespace: str = NAMESPACE
) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", namespace]
    for path in values_files:
        args += ["--values", str(path)]
    for item in sets:
        args += ["--set", item]
    return args


def render(
    helm: str, values_files: Sequence[Path] = (), sets: Sequence[str] = (), namespace: str = NAMESPACE
) -> list[dict[str, Any]]:
    result = helm_run(helm, *template_args(values_files, sets, namespace))
    assert result.returncode == 0, result.stderr
    return parse_manifests(result.stdout)


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


# --- a fake API server, just enough for `helm template --dry-run=server` -------------------------

_DISCOVERY: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("namespaces", "Namespace", False),
        ("pods", "Pod", True),
        ("secrets", "Secret", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("services", "Service", True),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "rbac.authorization.k8s.io/v1": [
        ("clusterrolebindings", "ClusterRoleBinding", False),
        ("clusterroles", "ClusterRole", False),
        ("rolebindings", "RoleBinding", True),
        ("roles", "Role", True),
    ],
    "admissionregistration.k8s.io/v1": [
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False)
    ],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
}


class FakeKubeApi:
    """Serves discovery plus GET of stored objects; records every request path."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests.append(self.path)
                status, body = api.answer(self.path.split("?", 1)[0])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def put_secret(self, namespace: str, secret: dict[str, Any]) -> None:
        self.objects[f"/api/v1/namespaces/{namespace}/secrets/{secret['metadata']['name']}"] = secret

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if path == "/version":
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups = [gv.split("/") for gv in _DISCOVERY if "/" in gv]
            return 200, {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [{"groupVersion": f"{group}/{version}", "version": version}],
                        "preferredVersion": {"groupVersion": f"{group}/{version}", "version": version},
                    }
                    for group, version in groups
                ],
            }
        group_version = path.removeprefix("/api/").removeprefix("/apis/")
        if group_version in _DISCOVERY:
            return 200, {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": [
                    {
                        "name": name,
                        "singularName": "",
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                    }
                    for name, kind, namespaced in _DISCOVERY[group_version]
                ],
            }
        if path in self.objects:
            return 200, self.objects[path]
        return 404, {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "NotFound",
            "code": 404,
            "message": f"{path} not found",
        }

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": "fake"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        path.chmod(0o600)
        return path

    @contextmanager
    def running(self) -> Iterator[FakeKubeApi]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)
