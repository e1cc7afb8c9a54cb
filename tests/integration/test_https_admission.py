"""The webhook over real HTTPS, with certificates from `certs generate`, verified as kube-apiserver does."""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path

import httpx
import jsonpatch
import pytest
import yaml

from tests.support.processes import cli, https_request, running_server
from tests.support.reviews import review
from tests.support.validation import assert_valid

pytestmark = pytest.mark.integration

SERVICE, NAMESPACE = "sidecar-injector", "webhook"
SERVICE_NAME = f"{SERVICE}.{NAMESPACE}.svc"  # the name kube-apiserver verifies for a service reference
EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    result = cli(
        "certs",
        "generate",
        "--service",
        SERVICE,
        "--namespace",
        NAMESPACE,
        "--out",
        str(out),
        "--extra-name",
        "localhost",
        "--days",
        "30",
    )
    ca_bundle = result.stdout.strip()
    assert base64.b64decode(ca_bundle) == (out / "ca.crt").read_bytes()
    assert (out / "tls.key").stat().st_mode & 0o077 == 0
    return out


def apiserver_context(certs: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@pytest.fixture(scope="module")
def server(certs: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    args = ["--templates", str(EXAMPLES), "--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key")]
    with running_server(args, tmp_path_factory.mktemp("server"), apiserver_context(certs)) as running:
        yield running
        assert running.stop() == 0, running.log()


def post_review(server, certs: Path, body: bytes, sni: str = SERVICE_NAME) -> httpx.Response:  # type: ignore[no-untyped-def]
    return https_request(
        "POST",
        f"https://127.0.0.1:{server.port}/mutate",
        apiserver_context(certs),
        sni,
        content=body,
        headers={"content-type": "application/json"},
    )


def test_the_seed_deployment_is_injected_over_verified_https(server, certs: Path) -> None:  # type: ignore[no-untyped-def]
    deployment = yaml.safe_load((EXAMPLES / "helloworld-with-annotation.yaml").read_text())
    sent = review(deployment)
    answer = post_review(server, certs, json.dumps(sent).encode())
    assert answer.status_code == 200
    assert answer.extensions["http_version"] == b"HTTP/1.1"
    response = answer.json()["response"]
    assert response["uid"] == sent["request"]["uid"] and response["allowed"] is True
    mutated = jsonpatch.apply_patch(deployment, json.loads(base64.b64decode(response["patch"])))
    pod_spec = mutated["spec"]["template"]["spec"]
    assert [c["name"] for c in pod_spec["containers"]] == ["helloworld", "logging-agent"]
    assert [v["name"] for v in pod_spec["volumes"]] == ["varlog", "config-volume"]
    assert_valid(mutated)

    again = post_review(server, certs, json.dumps(review(mutated)).encode()).json()["response"]
    assert again["allowed"] is True and "patch" not in again


def test_the_certificate_does_not_verify_for_another_service(server, certs: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|hostname mismatch"):
        post_review(server, certs, b"{}", sni="other-service.webhook.svc")


def test_bad_input_gets_4xx_and_the_server_keeps_serving(server, certs: Path) -> None:  # type: ignore[no-untyped-def]
    for body, status in ((b"{", 400), (b'{"kind":"AdmissionReview"}', 400), (b"x" * (4 * 1024 * 1024), 413)):
        answer = post_review(server, certs, body)
        assert answer.status_code == status and "message" in answer.json()
    assert (
        post_review(server, certs, json.dumps(review(None, operation="DELETE")).encode()).status_code == 200
    )


def test_probes_metrics_and_one_log_line_per_review(server, certs: Path) -> None:  # type: ignore[no-untyped-def]
    context = apiserver_context(certs)
    base = f"https://127.0.0.1:{server.port}"
    assert https_request("GET", f"{base}/healthz", context, SERVICE_NAME).status_code == 200
    assert https_request("GET", f"{base}/readyz", context, SERVICE_NAME).status_code == 200
    listing = https_request("GET", f"{base}/templates", context, SERVICE_NAME).json()
    assert {t["name"] for t in listing["templates"]} == {"logging-agent", "log-shipper"}

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "plain", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    before = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics").text
    post_review(server, certs, json.dumps(review(pod)).encode())
    after = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics").text

    def count(text: str) -> float:
        line = [
            x
            for x in text.splitlines()
            if x.startswith('sidecar_injector_reviews_total{outcome="skipped",reason="not-requested"}')
        ]
        return float(line[0].split()[-1]) if line else 0.0

    assert count(after) == count(before) + 1
    assert "reason=not-requested" in server.log() and "object=default/plain" in server.log()
