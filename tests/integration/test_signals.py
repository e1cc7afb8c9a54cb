"""Signals that kill a process by default (SIGHUP, SIGUSR1, SIGUSR2) are logged and ignored; the
server keeps serving and still stops cleanly, with its drain, on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.processes import https_request, issue_certificate, running_server
from tests.support.reviews import opted_in_pod, review

pytestmark = pytest.mark.integration
STRAY = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


@pytest.mark.parametrize("workers", [1, 2])
def test_stray_signals_are_logged_and_ignored(tmp_path: Path, workers: int) -> None:
    certificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    args = ["--templates", "examples", *certificate.server_args, "--workers", str(workers)]
    body = json.dumps(review(opted_in_pod())).encode()
    with running_server(args, tmp_path, context) as server:
        deadline = time.monotonic() + 30
        while server.log().count("serving admission reviews") < workers:  # every worker past start-up
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        for sig in STRAY:
            server.process.send_signal(sig)
        if workers == 1:  # the prefork parent ignores them silently; a worker's event loop logs them
            deadline = time.monotonic() + 30
            while not all(f"received {sig.name}: ignored" in server.log() for sig in STRAY):
                assert server.process.poll() is None, f"the server died of a stray signal:\n{server.log()}"
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.05)
        else:
            for worker in worker_pids(server.process.pid):
                for sig in STRAY:
                    os.kill(worker, sig)
            time.sleep(0.5)
        assert server.process.poll() is None, f"the server died of a stray signal:\n{server.log()}"
        for _ in range(4):
            answer = https_request(
                "POST",
                f"https://127.0.0.1:{server.port}/mutate",
                context,
                "localhost",
                content=body,
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == 200 and answer.json()["response"]["allowed"] is True
        assert server.stop() == 0, server.log()
    assert "shutdown requested" in server.log()


def worker_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children]
