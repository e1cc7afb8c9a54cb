"""Hundreds of idle and slowloris connections neither starve normal reviews nor stay open forever."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import time
from pathlib import Path

import pytest

from tests.support.processes import https_request, issue_certificate, running_server
from tests.support.reviews import opted_in_pod, review

pytestmark = pytest.mark.integration
IDLE, SLOW = 200, 200


def test_idle_and_slow_connections_do_not_starve_reviews_and_are_closed(tmp_path: Path) -> None:
    certificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    args = [
        "--templates",
        "examples",
        *certificate.server_args,
        "--request-timeout",
        "2",
        "--idle-timeout",
        "4",
    ]
    body = json.dumps(review(opted_in_pod())).encode()
    with running_server(args, tmp_path, context) as server:
        idle: list[ssl.SSLSocket] = []
        slow: list[ssl.SSLSocket] = []
        try:
            for group, count in ((idle, IDLE), (slow, SLOW)):
                for _ in range(count):
                    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                    group.append(context.wrap_socket(raw, server_hostname="localhost"))
            for conn in slow:  # a request that starts and never finishes
                conn.sendall(
                    b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                )

            for _ in range(20):
                answer = https_request(
                    "POST",
                    f"https://127.0.0.1:{server.port}/mutate",
                    context,
                    "localhost",
                    content=body,
                    headers={"content-type": "application/json"},
                    timeout=5,
                )
                assert answer.status_code == 200 and answer.json()["response"]["allowed"] is True

            time.sleep(1.0)
            for conn in slow:  # keep trickling: each byte used to reset uvicorn's only timer
                conn.sendall(b"X")
            time.sleep(2.5)
            assert all(closed_by_server(conn) for conn in slow), "slow requests outlived the request timeout"
            time.sleep(1.5)
            assert all(closed_by_server(conn) for conn in idle), "idle connections outlived the idle timeout"
        finally:
            for conn in idle + slow:
                conn.close()
        assert server.stop() == 0


def closed_by_server(conn: ssl.SSLSocket) -> bool:
    conn.settimeout(2)
    try:
        return conn.recv(1024) == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_connections_reset_by_clients_release_their_memory(tmp_path: Path) -> None:
    """A client that resets its connection must not leave the server holding its TLS state.

    uvicorn cancels its keep-alive timer only on a clean close; the timer then kept each reset
    connection's protocol and TLS buffers (about 1 MiB) alive for the whole idle timeout.
    """
    certificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    args = [
        "--templates",
        "examples",
        *certificate.server_args,
    ]
    body = json.dumps(review(opted_in_pod())).encode()
    request = (
        f"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with running_server(args, tmp_path, context) as server:

        def rss_mib() -> float:
            status = Path(f"/proc/{server.process.pid}/status").read_text()
            return (
                int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024
            )

        def churn(count: int) -> None:
            for _ in range(count):
                conn = context.wrap_socket(
                    socket.create_connection(("127.0.0.1", server.port)), server_hostname="localhost"
                )
                conn.sendall(request)
                assert conn.recv(65536).startswith(b"HTTP/1.1 200")
                conn.sendall(request)  # the next review in flight when the client resets, as load tools do
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )  # close with RST
                conn.close()

        churn(50)  # warm up allocator pools
        before = rss_mib()
        churn(300)
        time.sleep(0.5)
        grown = rss_mib() - before
        assert grown < 5, f"RSS grew {grown:.1f} MiB after 300 reset connections"
        assert server.stop() == 0
