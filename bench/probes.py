"""Clients that watch the server while a scenario runs: /readyz on its own connection, a verifying TLS
handshake every few milliseconds, and a raw HTTP/1.1 answer read off a socket."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable

from bench.common import HOST


class ReadinessPoller(threading.Thread):
    """GET /readyz on one keep-alive connection every ``interval``; records each change of answer."""

    def __init__(self, port: int, context: ssl.SSLContext, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.port, self.context, self.interval = port, context, interval
        self.changes: list[tuple[float, str]] = []  # (monotonic time, "200" / "503" / "error")
        self.bodies: dict[str, bytes] = {}  # the last body seen per non-200 state
        self.polls = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        connection: http.client.HTTPSConnection | None = None
        while not self._stop_event.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPSConnection(
                        "127.0.0.1", self.port, context=self.context, timeout=2
                    )
                connection.request("GET", "/readyz")
                answer = connection.getresponse()
                body = answer.read()
                state = str(answer.status)
                if answer.status != 200:
                    self.bodies[state] = body
            except (OSError, http.client.HTTPException):
                state = "error"
                if connection is not None:
                    connection.close()
                connection = None
            self.polls += 1
            if not self.changes or self.changes[-1][1] != state:
                self.changes.append((time.monotonic(), state))
            self._stop_event.wait(self.interval)
        if connection is not None:
            connection.close()

    def first(self, predicate: Callable[[str], bool], after: float) -> float | None:
        return next((t for t, state in list(self.changes) if t >= after and predicate(state)), None)

    def wait_for(self, predicate: Callable[[str], bool], after: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.first(predicate, after)
            if found is not None:
                return found
            time.sleep(0.005)
        return None

    def states_between(self, start: float, end: float) -> list[str]:
        """Every state in force at some point of [start, end]."""
        before = [state for t, state in self.changes if t <= start][-1:]
        return before + [state for t, state in self.changes if start < t <= end]

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


def peer_serial(port: int, context: ssl.SSLContext) -> int:
    """Serial of the certificate a new, verifying TLS handshake is given."""
    from cryptography import x509

    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


class HandshakeProber(threading.Thread):
    """A new verifying handshake every ``interval``: which serial each was given, or its error."""

    def __init__(self, port: int, context: ssl.SSLContext, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.port, self.context, self.interval = port, context, interval
        self.records: list[tuple[float, float, int | str]] = []  # (began, done, serial or error)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            began = time.monotonic()
            try:
                seen: int | str = peer_serial(self.port, self.context)
            except (OSError, ssl.SSLError) as exc:
                seen = f"{type(exc).__name__}: {exc}"
            self.records.append((began, time.monotonic(), seen))
            self._stop_event.wait(self.interval)

    def errors(self) -> list[str]:
        return [seen for _, _, seen in self.records if isinstance(seen, str)]

    def serials_between(self, start: float, end: float) -> set[int | str]:
        """Serials given to the handshakes begun in [start, end]."""
        return {seen for began, _, seen in list(self.records) if start <= began <= end}

    def wait_for_serial(self, serial: int, after: float, timeout: float) -> float | None:
        """When the first handshake finished after ``after`` had been given ``serial``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((d for _, d, seen in list(self.records) if d >= after and seen == serial), None)
            if found is not None:
                return found
            time.sleep(0.005)
        return None

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


def read_http_answer(sock: ssl.SSLSocket, data: bytes = b"") -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 answer (Content-Length framed); ``data``: bytes already read."""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed before an answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(ln.split(b":")[1]) for ln in lines if ln.lower().startswith(b"content-length")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), body
