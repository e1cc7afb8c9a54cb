"""Overload answers fast: reviews past kube-apiserver's ?timeout= and past the in-flight cap get a 503 at once."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import issue_certificate, running_server
from tests.support.reviews import opted_in_pod, review

pytestmark = pytest.mark.integration


def open_request(port: int, context: ssl.SSLContext, body: bytes, query: str = "") -> ssl.SSLSocket:
    """Send the headers of a review, not its body yet."""
    conn = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost"
    )
    conn.sendall(
        f"POST /mutate{query} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    return conn


def status_of(conn: ssl.SSLSocket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return int(head.split()[1]), body


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    certificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    args = [
        "--templates",
        "examples",
        *certificate.server_args,
        "--max-inflight",
        "2",
    ]
    with running_server(args, tmp_path, context) as running:
        yield running, context
        assert running.stop() == 0


def test_a_review_older_than_the_apiservers_timeout_is_not_processed(server) -> None:  # type: ignore[no-untyped-def]
    running, context = server
    body = json.dumps(review(opted_in_pod())).encode()
    late = open_request(running.port, context, body, "?timeout=1s")
    timely = open_request(running.port, context, body, "?timeout=10s")
    time.sleep(1.3)  # the request sat in a queue (here: its body was slow) longer than kube-apiserver waits
    late.sendall(body)
    timely.sendall(body)
    status, rest = status_of(late)
    assert status == 503 and b"timeout" in rest
    assert status_of(timely)[0] == 200
    late.close()
    timely.close()


def test_past_the_in_flight_cap_the_answer_is_an_immediate_503(server) -> None:  # type: ignore[no-untyped-def]
    """Every slot is held by a request whose body is still arriving, and moving: nothing can be cut
    (tests/integration/test_hostile_clients.py shows stalled ones are), so the newcomer is refused."""
    running, context = server
    body = json.dumps(review(opted_in_pod())).encode()
    third = context.wrap_socket(  # its TLS handshake done before the slots are taken
        socket.create_connection(("127.0.0.1", running.port), timeout=10), server_hostname="localhost"
    )
    holding = [open_request(running.port, context, body) for _ in range(2)]
    moving = threading.Event()

    def trickle() -> None:
        sent = 0
        while not moving.is_set() and sent < 50:
            for conn in holding:
                conn.sendall(body[sent : sent + 1])
            sent += 1
            moving.wait(0.05)

    trickling = threading.Thread(target=trickle)
    trickling.start()
    try:
        deadline = time.monotonic() + 20
        while in_progress(running) < 2:
            assert time.monotonic() < deadline, "the requests never reached the app"
            time.sleep(0.01)
        third.sendall(
            f"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status, rest = status_of(third)
    finally:
        moving.set()
        trickling.join(10)
    assert status == 503 and b"too many reviews" in rest
    metrics = httpx.get(f"http://127.0.0.1:{running.metrics_port}/metrics").text
    assert 'sidecar_injector_reviews_total{outcome="rejected",reason="overloaded"} 1.0' in metrics
    for conn in (*holding, third):
        conn.close()


def in_progress(running) -> float:  # type: ignore[no-untyped-def]
    metrics = httpx.get(f"http://127.0.0.1:{running.metrics_port}/metrics").text
    line = next(
        line for line in metrics.splitlines() if line.startswith("sidecar_injector_reviews_in_progress")
    )
    return float(line.split()[-1])
