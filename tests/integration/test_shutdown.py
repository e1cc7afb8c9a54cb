"""SIGTERM under load: readiness fails first, requests keep succeeding through the drain, exit 0."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import issue_certificate, running_server
from tests.support.reviews import opted_in_pod, review

pytestmark = pytest.mark.integration
CONNECTIONS = 32


def test_sigterm_under_32_connections_fails_no_request(tmp_path: Path) -> None:
    certificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    args = [
        "--templates",
        "examples",
        *certificate.server_args,
        "--drain-seconds",
        "3",
    ]
    body = json.dumps(review(opted_in_pod())).encode()
    with running_server(args, tmp_path, context) as server:
        base = f"https://127.0.0.1:{server.port}"
        stop_sending = threading.Event()
        results: list[int | str] = []
        lock = threading.Lock()

        def client() -> None:
            # One keep-alive connection per thread, like kube-apiserver's connection pool.
            with httpx.Client(verify=context, timeout=10) as session:
                deadline = time.monotonic() + 60
                while not stop_sending.is_set() and time.monotonic() < deadline:
                    try:
                        status: int | str = session.post(
                            f"{base}/mutate", content=body, headers={"content-type": "application/json"}
                        ).status_code
                    except httpx.HTTPError as exc:
                        status = f"{type(exc).__name__}: {exc}"
                    with lock:
                        results.append(status)

        threads = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        server.process.terminate()  # SIGTERM, as the kubelet sends

        # The endpoints controller notices the failing readiness probe and stops routing to the pod;
        # until then (here: 1.5 s after unready) traffic keeps arriving and must be served.
        with httpx.Client(verify=context, timeout=5) as probe:
            deadline = time.monotonic() + 10
            while probe.get(f"{base}/readyz").status_code == 200:
                assert time.monotonic() < deadline, "readiness never failed after SIGTERM"
                time.sleep(0.05)
        time.sleep(1.5)
        stop_sending.set()
        for thread in threads:
            thread.join(30)

        assert server.process.wait(30) == 0, server.log()
        failures = [r for r in results if r != 200]
        assert len(results) > CONNECTIONS * 5, f"too little load to mean anything: {len(results)} requests"
        assert failures == [], f"{len(failures)} of {len(results)} requests failed: {failures[:5]}"
        assert "shutdown requested" in server.log() and "stopped" in server.log()
