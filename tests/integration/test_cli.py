"""The CLI as a user runs it: inject (preview), templates validate, and serve with no flags at all."""

from __future__ import annotations

import re
import shlex
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.processes import REPO, cli, free_port, https_request
from tests.support.validation import assert_valid

pytestmark = pytest.mark.integration

EXAMPLES = REPO / "examples"


def test_inject_adds_the_logging_agent_to_the_seed_and_a_second_pass_changes_nothing() -> None:
    first = cli("inject", "--templates", "examples", "-f", "examples/helloworld-with-annotation.yaml")
    [deployment] = list(yaml.safe_load_all(first.stdout))
    pod_spec = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in pod_spec["containers"]] == ["helloworld", "logging-agent"]
    assert pod_spec["containers"][1]["image"] == "gcr.io/google_containers/fluentd:1.30"
    assert [v["name"] for v in pod_spec["volumes"]] == ["varlog", "config-volume"]
    assert_valid(deployment)

    second = cli("inject", "--templates", "examples", "-f", "-", input=first.stdout)
    assert second.stdout == first.stdout
    assert cli(
        "inject", "--templates", "examples", "-f", "-", "--patch", input=first.stdout
    ).stdout.split() == ["[", "[]", "]"]


def test_inject_handles_lists_and_several_documents_and_passes_other_objects_through() -> None:
    manifest = (EXAMPLES / "app-with-log-shipper.yaml").read_text()
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec: {ports: [{port: 80}]}\n"
    listed = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(manifest)]})
    out = cli("inject", "--templates", "examples", "-f", "-", input=f"{manifest}---\n{service}---\n{listed}")
    documents = list(yaml.safe_load_all(out.stdout))
    assert [d["kind"] for d in documents] == ["Deployment", "Service", "List"]
    for deployment in (documents[0], documents[2]["items"][0]):
        init = deployment["spec"]["template"]["spec"]["initContainers"]
        assert init[0]["name"] == "log-shipper" and init[0]["restartPolicy"] == "Always"
        app_env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        assert app_env == [{"name": "LOG_DIR", "value": "/var/log/app"}], "where the shipper reads"
        assert_valid(deployment)
    assert documents[1] == yaml.safe_load(service)


def test_inject_denies_with_a_clear_message_when_the_policy_says_so() -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {sidecar-injector.io/inject: nope}}\nspec: {containers: [{name: a, image: b}]}\n"
    allowed = cli("inject", "--templates", "examples", "-f", "-", input=pod)
    assert "'nope' not found" in allowed.stderr and yaml.safe_load(allowed.stdout) == yaml.safe_load(pod)
    denied = cli(
        "inject", "--templates", "examples", "-f", "-", "--missing-template", "deny", input=pod, check=False
    )
    assert denied.returncode == 1 and "template-not-found" in denied.stderr


def test_inject_checks_pod_security_against_namespaces_in_the_same_stream() -> None:
    seed = (EXAMPLES / "helloworld-with-annotation.yaml").read_text()
    restricted = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n"
    warned = cli("inject", "--templates", "examples", "-f", "-", input=f"{restricted}---\n{seed}")
    assert (
        "needs Pod Security level 'baseline' but namespace 'default' enforces 'restricted'" in warned.stderr
    )
    assert [d["kind"] for d in yaml.safe_load_all(warned.stdout)] == ["Namespace", "Deployment"]

    plain = cli("inject", "--templates", "examples", "-f", "-", input=seed)
    assert "Pod Security" not in plain.stderr  # no Namespace, and the default level is privileged
    held = cli(
        "inject",
        "--templates",
        "examples",
        "-f",
        "-",
        "--pod-security-default-level",
        "restricted",
        input=seed,
    )
    assert "enforces 'restricted'" in held.stderr
    denied = cli(
        "inject",
        "--templates",
        "examples",
        "-f",
        "-",
        "--pod-security-check",
        "deny",
        input=f"{restricted}---\n{seed}",
        check=False,
    )
    assert denied.returncode == 1 and "(pod-security)" in denied.stderr


@pytest.mark.parametrize("text", ["a: [1\n", "!!float ''\n", "x: !!int 0x\n", "[" * 5000])
def test_inject_reports_unreadable_manifests_without_a_traceback(text: str) -> None:
    result = cli("inject", "--templates", "examples", "-f", "-", input=text, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: standard input: ") and "not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_inject_reports_a_missing_file_without_a_traceback(tmp_path: Path) -> None:
    result = cli("inject", "--templates", "examples", "-f", str(tmp_path / "nope.yaml"), check=False)
    assert result.returncode == 1 and result.stderr.startswith("error: cannot read")


def test_templates_validate_names_the_configmap_key_and_field(tmp_path: Path) -> None:
    assert "ok: template 'logging-agent'" in cli("templates", "validate", "examples").stdout
    (tmp_path / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: agent-initializer}\n"
        "data:\n  config: |\n    containers:\n    - name: agent\n      image: a\n      resources: {limits: {cpu: [1]}}\n"
    )
    result = cli("templates", "validate", str(tmp_path), check=False)
    assert result.returncode == 1
    assert "ConfigMap agent-initializer, key 'config': containers[0].resources.limits.cpu:" in result.stdout


def test_serve_with_no_flags_serves_the_bundled_templates_with_a_self_signed_certificate(
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "webhook", "serve", "--port", str(port), "--metrics-port", "0"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30
        while "curl" not in log.read_text() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        curl = next(line for line in log.read_text().splitlines() if line.strip().startswith("curl "))
        argv = shlex.split(curl)
        ca_file = argv[argv.index("--cacert") + 1]
        body = Path(argv[argv.index("--data") + 1].lstrip("@")).read_bytes()
        url = argv[-1]
        assert re.fullmatch(rf"https://localhost:{port}/mutate", url)
        answer = https_request(
            "POST",
            f"https://127.0.0.1:{port}/mutate",
            ssl.create_default_context(cafile=ca_file),
            "localhost",
            content=body,
            headers={"content-type": "application/json"},
        )
        response = answer.json()["response"]
        assert response["allowed"] is True and response["patchType"] == "JSONPatch"
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        process.terminate()
        assert process.wait(30) == 0, log.read_text()
