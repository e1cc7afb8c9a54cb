"""`serve --workers N`: several processes share the port, /metrics sums them, SIGTERM stops all with 0."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import cli, free_port, https_request, issue_certificate, running_server
from tests.support.reviews import opted_in_pod, review

pytestmark = pytest.mark.integration


def test_two_workers_share_the_port_and_their_metrics_add_up(tmp_path: Path) -> None:
    certificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    args = [
        "--workers",
        "2",
        "--templates",
        "examples",
        *certificate.server_args,
    ]
    body = json.dumps(review(opted_in_pod())).encode()
    with running_server(args, tmp_path, context) as server:
        # Ready means one worker answers; the other may still be starting on a loaded machine. New
        # connections (the kernel spreads them over the workers) until both served, within a bound.
        sent = 0
        serving: set[str] = set()
        while len(serving) < 2 and sent < 400:
            for _ in range(20):
                answer = https_request(
                    "POST",
                    f"https://127.0.0.1:{server.port}/mutate",
                    context,
                    "localhost",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                assert answer.status_code == 200 and "patch" in answer.json()["response"]
            sent += 20
            serving = set(re.findall(r"\[(\d+)\] webhook\.server\.handler: review", server.log()))
        assert len(serving) == 2, f"{sent} reviews were all served by {serving}"
        metrics = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics").text
        assert f'sidecar_injector_reviews_total{{outcome="injected",reason="injected"}} {sent}.0' in metrics
        assert server.stop() == 0, server.log()
    assert server.log().count("webhook.runtime: stopped") == 2


def test_workers_refuse_to_start_without_one_shared_certificate(tmp_path: Path) -> None:
    result = cli("serve", "--workers", "2", "--port", str(free_port()), check=False)
    assert result.returncode == 2 and "--workers needs --cert and --key" in result.stderr


def test_workers_stop_when_their_parent_is_killed_outright(tmp_path: Path) -> None:
    """SIGKILL leaves the parent no time to forward anything: the kernel tells each worker
    (PR_SET_PDEATHSIG), so none keeps serving the port on its own."""
    certificate = issue_certificate(tmp_path)
    args = ["--workers", "2", "--templates", "examples", *certificate.server_args]
    with running_server(args, tmp_path, certificate.client_context()) as server:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        deadline = time.monotonic() + 30
        while len(workers := children.read_text().split()) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        server.process.kill()
        server.process.wait(10)
        deadline = time.monotonic() + 30
        while alive := [pid for pid in workers if _running(int(pid))]:
            assert time.monotonic() < deadline, f"workers {alive} outlived their parent"
            time.sleep(0.05)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init, a zombie only waits for it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
