"""The TLS policy as a client on the network meets it, against uvicorn wired the way runtime wires it."""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.uvicorn_tls import WAIT, UvicornTlsServer
from webhook.tls import (
    CertificateAuthority,
    CertificateBundle,
    ReloadableContext,
    issue_ca,
    issue_client_certificate,
    issue_serving_certificate,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return issue_ca(now=datetime.now(UTC))


@pytest.fixture(scope="module")
def serving(ca: CertificateAuthority) -> CertificateBundle:
    return issue_serving_certificate(ca, ["localhost"], now=datetime.now(UTC), ip_addresses=["127.0.0.1"])


@pytest.fixture(scope="module")
def server(serving: CertificateBundle) -> Iterator[UvicornTlsServer]:
    with UvicornTlsServer(ReloadableContext.from_bundle(serving)) as running:
        yield running


@pytest.fixture(scope="module")
def mtls_server(serving: CertificateBundle, ca: CertificateAuthority) -> Iterator[UvicornTlsServer]:
    with UvicornTlsServer(ReloadableContext.from_bundle(serving, client_ca_pem=ca.cert_pem)) as running:
        yield running


def trusting(ca: CertificateAuthority) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca.cert_pem.decode("ascii"))


def restricted_client(version: ssl.TLSVersion, ciphers: str) -> ssl.SSLContext:
    """A client that offers only ``version`` and ``ciphers`` and trusts anything: any refusal is the server's."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # offering old versions is the point
        ctx.minimum_version = version
        ctx.maximum_version = version
    ctx.set_ciphers(f"{ciphers}:@SECLEVEL=0")
    return ctx


def connect(port: int, ctx: ssl.SSLContext, host: str = "localhost") -> tuple[str | None, str | None]:
    """Handshake and return (protocol, cipher); raises ssl.SSLError when refused."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        cipher = tls.cipher()
        return tls.version(), cipher[0] if cipher else None


def refused_by_server(exc: OSError) -> bool:
    """True for a refusal the server sent, False for a client that could not even offer the handshake.

    asyncio's TLS transport aborts a failed handshake without flushing OpenSSL's alert, so the client sees
    EOF rather than the alert itself (the alert reasons are asserted in tests/unit/tls/test_context.py).
    """
    if isinstance(exc, ConnectionResetError | ssl.SSLEOFError):
        return True
    return isinstance(exc, ssl.SSLError) and "ALERT" in (exc.reason or "")


def test_plain_http_on_the_tls_port_gets_no_http_response(server: UvicornTlsServer) -> None:
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while chunk := raw.recv(4096):
            received += chunk
    # The server closed the connection (EOF reached) without ever speaking HTTP.
    assert b"HTTP/" not in received


def test_a_default_client_gets_tls13(server: UvicornTlsServer, ca: CertificateAuthority) -> None:
    assert connect(server.port, trusting(ca))[0] == "TLSv1.3"


def test_tls11_is_refused(server: UvicornTlsServer) -> None:
    with pytest.raises((ssl.SSLError, ConnectionResetError)) as refused:
        connect(server.port, restricted_client(ssl.TLSVersion.TLSv1_1, "DEFAULT"))
    # Not a client unable to offer TLS 1.1 ("no protocols available"): the server hung up on it.
    assert refused_by_server(refused.value), refused.value


def test_only_ecdhe_aead_suites_are_accepted_over_tls12(server: UvicornTlsServer) -> None:
    offered = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    offered.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    # PSK and SRP suites need credentials a plain client does not have; it cannot offer them.
    tls12 = {
        c["name"]: c
        for c in offered.get_ciphers()
        if c["protocol"] == "TLSv1.2"
        and c["kea"] not in {"kx-psk", "kx-ecdhe-psk", "kx-dhe-psk", "kx-rsa-psk", "kx-srp"}
    }
    assert len(tls12) > 20, "the client cannot offer enough suites for this test to mean anything"
    accepted = []
    for name in tls12:
        try:
            protocol, cipher = connect(server.port, restricted_client(ssl.TLSVersion.TLSv1_2, name))
        except (ssl.SSLError, ConnectionResetError) as exc:
            assert refused_by_server(exc), (name, exc)
            continue
        assert (protocol, cipher) == ("TLSv1.2", name)
        accepted.append(name)
    assert accepted, "no TLS 1.2 suite at all was accepted"
    assert all(tls12[n]["aead"] and tls12[n]["kea"] == "kx-ecdhe" for n in accepted), accepted
    assert "AES128-SHA" not in accepted


class TestClientCertificates:
    def test_a_client_without_a_certificate_is_refused(
        self, mtls_server: UvicornTlsServer, ca: CertificateAuthority
    ) -> None:
        # Under TLS 1.3 the refusal arrives after the client's handshake, so it surfaces on the request.
        with httpx.Client(verify=trusting(ca), timeout=WAIT) as client, pytest.raises(httpx.TransportError):
            client.get(f"https://localhost:{mtls_server.port}/")

    def test_a_client_with_a_certificate_from_another_ca_is_refused(
        self, mtls_server: UvicornTlsServer, ca: CertificateAuthority, tmp_path: Path
    ) -> None:
        stranger = issue_client_certificate(issue_ca(now=datetime.now(UTC)), "mallory", now=datetime.now(UTC))
        ctx = with_client_cert(trusting(ca), stranger, tmp_path)
        with httpx.Client(verify=ctx, timeout=WAIT) as client, pytest.raises(httpx.TransportError):
            client.get(f"https://localhost:{mtls_server.port}/")

    def test_a_client_with_a_certificate_from_the_ca_is_served(
        self, mtls_server: UvicornTlsServer, ca: CertificateAuthority, tmp_path: Path
    ) -> None:
        cert = issue_client_certificate(ca, "kube-apiserver", now=datetime.now(UTC))
        ctx = with_client_cert(trusting(ca), cert, tmp_path)
        with httpx.Client(verify=ctx, timeout=WAIT) as client:
            response = client.get(f"https://localhost:{mtls_server.port}/")
        assert response.status_code == 200
        assert response.text == "ok"


def with_client_cert(ctx: ssl.SSLContext, cert: CertificateBundle, directory: Path) -> ssl.SSLContext:
    (directory / "client.crt").write_bytes(cert.cert_pem)
    (directory / "client.key").write_bytes(cert.key_pem)
    ctx.load_cert_chain(directory / "client.crt", directory / "client.key")
    return ctx
