"""An answer leaves in one TLS record (transport/answers.py), and what must not wait does not.

uvicorn writes an answer's head and body in two calls; the request cycle's transport holds the head
until the body comes, so over TLS the answer is one record instead of two. The client here reads the
raw bytes off the socket and splits them into TLS records before decrypting them (ssl.MemoryBIO), so
it counts exactly what the server wrote. A HEAD answer (no body write) and ``100 Continue`` (written
before the answer starts) must still go out at once.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import IssuedCertificate, RunningServer, issue_certificate, running_server
from tests.support.reviews import opted_in_pod, review

pytestmark = pytest.mark.integration
APPLICATION_DATA = 23  # the TLS record content type of every record after the handshake


class RecordCountingClient:
    """TLS over a plain socket through memory BIOs: every record the server sends is counted."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.records = 0
        self._unsplit = b""
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._receive()
        self._flush()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def read_until(self, complete: bytes, *, body: bool = True) -> bytes:
        """Decrypted bytes until ``complete`` is in them and, with ``body``, the Content-Length's worth."""
        data = b""
        while not _answered(data, complete, body):
            try:
                data += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._receive()
        return data

    def _flush(self) -> None:
        pending = self.outgoing.read()
        if pending:
            self.sock.sendall(pending)

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        assert data, "the server closed the connection"
        self._unsplit += data
        while len(self._unsplit) >= 5:
            length = int.from_bytes(self._unsplit[3:5], "big")
            if len(self._unsplit) < 5 + length:
                break
            self.records += self._unsplit[0] == APPLICATION_DATA
            self._unsplit = self._unsplit[5 + length :]
        self.incoming.write(data)


def _answered(data: bytes, complete: bytes, body: bool) -> bool:
    if complete not in data:
        return False
    if not body:
        return True
    head, _, rest = data.partition(b"\r\n\r\n")
    lengths = [
        line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    ]
    return bool(lengths) and len(rest) >= int(lengths[0])


@contextmanager
def server_and_client(tmp_path: Path) -> Iterator[tuple[RunningServer, RecordCountingClient]]:
    certificate: IssuedCertificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    args = ["--templates", "examples", *certificate.server_args]
    with running_server(args, tmp_path, context) as server:
        client = RecordCountingClient(server.port, context)
        try:
            yield server, client
        finally:
            client.close()


def mutate_request(extra: bytes = b"") -> tuple[bytes, bytes]:
    body = json.dumps(review(opted_in_pod())).encode()
    head = (
        b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n"
    )
    return head, body


def test_an_answer_is_one_tls_record(tmp_path: Path) -> None:
    with server_and_client(tmp_path) as (_, client):
        head, body = mutate_request()
        client.send(head + body)  # the first answer also carries the server's session tickets
        assert client.read_until(b"HTTP/1.1 200").startswith(b"HTTP/1.1 200")
        for _ in range(3):
            client.records = 0
            client.send(head + body)
            answer = client.read_until(b"HTTP/1.1 200")
            assert b'"patch"' in answer
            assert client.records == 1, f"the answer took {client.records} TLS records"


def test_a_head_answer_is_written_though_it_has_no_body(tmp_path: Path) -> None:
    with server_and_client(tmp_path) as (_, client):
        for _ in range(2):  # the connection stays usable after it
            client.send(b"HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = client.read_until(b"\r\n\r\n", body=False)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\n")


def test_100_continue_is_not_held_back(tmp_path: Path) -> None:
    with server_and_client(tmp_path) as (_, client):
        head, body = mutate_request(b"Expect: 100-continue\r\n")
        client.send(head)
        assert client.read_until(b"\r\n\r\n", body=False) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.send(body)
        assert b'"patch"' in client.read_until(b"HTTP/1.1 200")
