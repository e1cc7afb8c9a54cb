"""With --client-ca every HTTPS client must present a certificate, which the kubelet's probes cannot:
--probe-port serves /healthz and /readyz (only those) over plain HTTP for them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port, issue_certificate, running_server
from webhook.tls import issue_ca, issue_client_certificate

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("workers", [1, 2])
def test_probes_answer_on_the_probe_port_while_the_https_port_demands_a_client_certificate(
    tmp_path: Path, workers: int
) -> None:
    serving = issue_certificate(tmp_path / "serving")
    clients = issue_ca(now=datetime.now(UTC))
    (tmp_path / "client-ca.crt").write_bytes(clients.cert_pem)
    apiserver = issue_client_certificate(clients, "kube-apiserver", now=datetime.now(UTC))
    (tmp_path / "client.crt").write_bytes(apiserver.cert_pem)
    (tmp_path / "client.key").write_bytes(apiserver.key_pem)
    with_certificate = serving.client_context()
    with_certificate.load_cert_chain(tmp_path / "client.crt", tmp_path / "client.key")
    probe_port = free_port()
    args = [
        "--templates",
        "examples",
        *serving.server_args,
        "--client-ca",
        str(tmp_path / "client-ca.crt"),
        "--probe-port",
        str(probe_port),
        "--workers",
        str(workers),
    ]
    with running_server(args, tmp_path, with_certificate) as server:
        probes = f"http://127.0.0.1:{probe_port}"
        assert httpx.get(f"{probes}/healthz").status_code == 200
        ready = httpx.get(f"{probes}/readyz")
        assert ready.status_code == 200 and ready.json() == {"message": "ready"}
        assert httpx.get(f"{probes}/templates").status_code == 404, "the debug listing stays behind TLS"
        assert httpx.get(f"{probes}/mutate").status_code == 404
        with (
            httpx.Client(verify=serving.client_context(), timeout=10) as kubelet,
            pytest.raises(httpx.TransportError),
        ):
            kubelet.get(f"https://127.0.0.1:{server.port}/readyz", extensions={"sni_hostname": "localhost"})
        assert server.stop() == 0
