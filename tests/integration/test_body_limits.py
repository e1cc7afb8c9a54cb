"""Oversized bodies are refused while they are read, without the server's memory growing with them."""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import issue_certificate, running_server

pytestmark = pytest.mark.integration
MiB = 1024 * 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    block = b"[" * size
    for _ in range(total // size):
        yield block


def post(port: int, context: ssl.SSLContext, body: Iterator[bytes] | bytes, length: int | None) -> int | str:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    headers = {"Content-Type": "application/json"}
    if length is not None:
        headers["Content-Length"] = str(length)
    try:
        conn.request("POST", "/mutate", body=body, headers=headers, encode_chunked=length is None)
        return conn.getresponse().status
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as exc:
        # The server answered 413 and closed while the client was still sending: refused early.
        try:
            return conn.getresponse().status
        except Exception:
            return type(exc).__name__
    finally:
        conn.close()


def test_oversized_bodies_are_refused_early_and_memory_stays_flat(tmp_path: Path) -> None:
    certificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    context.check_hostname = False
    args = [
        "--templates",
        "examples",
        *certificate.server_args,
    ]
    with running_server(args, tmp_path, certificate.client_context()) as server:
        pid = server.process.pid
        assert post(server.port, context, b"{}", 2) == 400  # warm up the request path
        before = rss_mib(pid)

        # 50 MiB, declared: refused from the header alone. 50 MiB streamed: refused at the 3 MiB limit.
        assert post(server.port, context, chunks(50 * MiB), 50 * MiB) in (
            413,
            "BrokenPipeError",
            "ConnectionResetError",
        )
        assert post(server.port, context, chunks(50 * MiB), None) in (
            413,
            "BrokenPipeError",
            "ConnectionResetError",
        )
        after_single = rss_mib(pid)
        assert after_single - before < 8, (
            f"RSS grew {after_single - before:.1f} MiB for a refused 50 MiB body"
        )

        results: list[int | str] = []

        def send_five_mib() -> None:
            results.append(post(server.port, context, chunks(5 * MiB), None))

        threads = [threading.Thread(target=send_five_mib) for _ in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert len(results) == 100 and all(r != 200 for r in results)
        assert 413 in results
        after_many = rss_mib(pid)
        assert after_many - before < 80, (
            f"RSS grew {after_many - before:.1f} MiB for 100 concurrent 5 MiB bodies"
        )
        assert post(server.port, context, b"{}", 2) == 400, "the server still answers"
        print(
            f"RSS MiB: before {before:.1f}, after 50 MiB x2 {after_single:.1f}, after 100 x 5 MiB {after_many:.1f}"
        )
        assert server.stop() == 0
