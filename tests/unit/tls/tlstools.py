"""Test helpers: in-memory TLS handshakes and a kubelet-faithful Secret volume."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from tests.support.kubelet import KubeletVolume
from webhook.tls import CertificateBundle

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
SERVICE, NAMESPACE = "injector", "sidecars"
HOSTNAME = f"{SERVICE}.{NAMESPACE}.svc"


class HandshakeRefused(Exception):
    """A handshake failed; ``side`` says who raised first (the side that refused)."""

    def __init__(self, side: str, error: ssl.SSLError) -> None:
        super().__init__(f"{side}: {error}")
        self.side = side
        self.error = error


def handshake(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str | None = HOSTNAME
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Run a full handshake through memory BIOs (no sockets); returns (client, server) objects."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, obj, out, peer_in in (("client", client, c_out, s_in), ("server", server, s_out, c_in)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError as exc:
                    raise HandshakeRefused(side, exc) from exc
            peer_in.write(out.read())
        if all(done.values()):
            # TLS 1.3 servers verify a client certificate after the client thinks it is done; a read
            # surfaces a refusal the server sent after that point.
            _settle(client, c_in, server, s_out)
            return client, server
    raise AssertionError("handshake did not finish")


def _settle(client: ssl.SSLObject, c_in: ssl.MemoryBIO, server: ssl.SSLObject, s_out: ssl.MemoryBIO) -> None:
    c_in.write(s_out.read())
    try:
        client.read(1)
    except ssl.SSLWantReadError:
        pass
    except ssl.SSLError as exc:
        raise HandshakeRefused("server", exc) from exc


def client_context(
    ca_pem: bytes, cert: CertificateBundle | None = None, tmp: Path | None = None
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    if cert is not None:
        assert tmp is not None
        (tmp / "client.crt").write_bytes(cert.cert_pem)
        (tmp / "client.key").write_bytes(cert.key_pem)
        ctx.load_cert_chain(tmp / "client.crt", tmp / "client.key")
    return ctx


def served_serial(client: ssl.SSLObject) -> int:
    der = client.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def serial_of(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


def swap_after_read(
    volume: KubeletVolume, new: CertificateBundle, after: int = 1
) -> Callable[[str | os.PathLike[str]], bytes]:
    """A replacement for ``sources._read`` that lets the kubelet swap the volume right after read ``after``."""
    calls = 0

    def read(path: str | os.PathLike[str]) -> bytes:
        nonlocal calls
        calls += 1
        data = Path(path).read_bytes()
        if calls == after:
            volume.write_bundle(new)
        return data

    return read
