"""A serving certificate that expires while its files stay unchanged: no reload ever fires, so only a
clock check can notice. Readiness must fail (kube-apiserver would refuse every handshake), while the
process stays alive for an operator or cert-manager to replace the Secret."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.processes import running_server
from webhook.tls import describe_certificate, issue_bundle
from webhook.tls.files import write_bundle

pytestmark = pytest.mark.integration

# Long enough for the server to start and answer once on a loaded machine before it expires.
LIFETIME_LEFT = timedelta(seconds=15)


def test_readiness_fails_once_the_serving_certificate_expires(tmp_path: Path) -> None:
    # A one-day certificate issued "a day ago, minus a few seconds": it expires shortly after start.
    bundle = issue_bundle(
        "injector",
        "sidecars",
        now=datetime.now(UTC) - timedelta(days=1) + LIFETIME_LEFT,
        days=1,
        extra_dns_names=["localhost"],
        ip_addresses=["127.0.0.1"],
    )
    not_after = describe_certificate(bundle.cert_pem).not_after
    paths = write_bundle(bundle, tmp_path / "tls")
    context = ssl.create_default_context(cafile=str(paths.ca))
    args = ["--cert", str(paths.cert), "--key", str(paths.key), "--templates", "examples"]
    with running_server(args, tmp_path, ready_context=context) as server:
        base = f"https://localhost:{server.port}"
        assert httpx.get(f"{base}/readyz", verify=context).status_code == 200
        expiry = datetime.fromtimestamp(
            _gauge(server.metrics_port, "sidecar_injector_certificate_expiry_timestamp_seconds"), UTC
        )
        assert abs(expiry - not_after) < timedelta(seconds=1)

        time.sleep(max(0.0, (not_after - datetime.now(UTC)).total_seconds()) + 0.5)
        # The handshake itself now fails verification, as it would for kube-apiserver.
        with pytest.raises(httpx.ConnectError, match="expired"):
            httpx.get(f"{base}/readyz", verify=context)
        answer = httpx.get(f"{base}/readyz", verify=False)
        assert answer.status_code == 503
        assert "expired" in answer.text
        assert _gauge(server.metrics_port, "sidecar_injector_ready") == 0
        assert httpx.get(f"{base}/healthz", verify=False).status_code == 200  # alive: no restart loop
        assert server.process.poll() is None


def _gauge(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    samples = [line.split() for line in text.splitlines() if line.startswith(f"{name} ")]
    assert samples, f"{name} not in /metrics"
    return float(samples[0][-1])
