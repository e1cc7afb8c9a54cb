"""Server-side TLS policy, and a context whose certificate can be replaced while the server runs.

Policy (one place, applied to every context this module builds): TLS 1.2 minimum; TLS 1.2 suites limited to
ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305); TLS 1.3 with OpenSSL's (all AEAD) suites;
no renegotiation; optional client-certificate verification against a given CA.

Hot reload. uvicorn builds one ``ssl.SSLContext`` at start-up and has no hook to replace it. We hand it a
*front* context whose ``sni_callback`` runs early in every handshake (OpenSSL invokes it even when the client
sends no SNI; CPython then passes ``server_name=None``) and points the connection at the *current* serving
context. The callback switches which certificate and key the connection presents; everything else (protocol
versions, ciphers, verify mode) stays as the front context set it, which is why front and serving contexts
are built by the same function. Handshakes in flight keep the context they started with, and established
connections are never touched, so a swap drops nothing.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Protocol

from cryptography.hazmat.primitives import serialization

from webhook.tls.errors import (
    CertificateError,
    CertificateParseError,
    CertificateValidityError,
    KeyMismatchError,
)
from webhook.tls.issuing import (
    CertificateBundle,
    CertificateInfo,
    describe_certificate,
    load_leaf_certificate,
    load_private_key,
)

# OpenSSL cipher-string syntax; applies to TLS 1.2 only (TLS 1.3 suites are all AEAD and set separately).
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def validate_pair(cert_pem: bytes, key_pem: bytes, *, now: datetime) -> CertificateInfo:
    """Check that ``key_pem`` belongs to the leaf of ``cert_pem`` and that the leaf is valid at ``now``.

    Raises CertificateParseError, KeyMismatchError or CertificateValidityError; returns the leaf's facts.
    """
    cert = load_leaf_certificate(cert_pem)
    key = load_private_key(key_pem)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise KeyMismatchError(
            "the private key does not belong to the certificate (a half-finished rotation?)"
        )
    info = describe_certificate(cert_pem)
    if now >= info.not_after:
        raise CertificateValidityError(
            f"the certificate {info.subject} expired at {info.not_after.isoformat()}"
        )
    if now < info.not_before:
        raise CertificateValidityError(
            f"the certificate {info.subject} is not valid before {info.not_before.isoformat()}"
        )
    return info


def build_server_context(
    cert_pem: bytes, key_pem: bytes, client_ca_pem: bytes | None = None, *, now: datetime | None = None
) -> ssl.SSLContext:
    """A server context serving ``cert_pem`` (leaf first, then intermediates) with ``key_pem``.

    With ``client_ca_pem``, clients must present a certificate signed by that CA. Validates first (see
    :func:`validate_pair`, at ``now`` or the current time) and raises a CertificateError rather than
    returning a context that would fail handshakes.
    """
    validate_pair(cert_pem, key_pem, now=now if now is not None else utc_now())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_RENEGOTIATION
    if client_ca_pem is not None:
        try:
            ctx.load_verify_locations(cadata=client_ca_pem.decode("ascii"))
        except (ssl.SSLError, ValueError) as exc:
            raise CertificateParseError(f"the client CA could not be loaded: {exc}") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED
    with _pem_paths(cert_pem, key_pem) as (cert_path, key_path):
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise CertificateParseError(f"OpenSSL refused the certificate chain or key: {exc}") from exc
    return ctx


class ReloadableContext:
    """The front context for the server, plus the serving certificate that new handshakes get.

    Construction validates the initial pair and raises CertificateError: a server never starts without a
    certificate. Afterwards :meth:`swap` only ever replaces a good certificate with another good one.
    ``healthy`` is False while the most recent reload attempt failed (feed readiness from it); ``info``
    describes the certificate in service (feed an expiry gauge from ``not_after``).
    """

    def __init__(
        self,
        cert_pem: bytes,
        key_pem: bytes,
        *,
        client_ca_pem: bytes | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._client_ca_pem = client_ca_pem
        self._clock = clock
        self._front = build_server_context(cert_pem, key_pem, client_ca_pem, now=clock())
        self._front.sni_callback = self._select_context
        self._current = self._front
        self._info = describe_certificate(cert_pem)
        self._last_error: CertificateError | None = None

    @classmethod
    def from_bundle(
        cls, bundle: CertificateBundle, *, client_ca_pem: bytes | None = None, clock: Clock = utc_now
    ) -> ReloadableContext:
        return cls(bundle.cert_pem, bundle.key_pem, client_ca_pem=client_ca_pem, clock=clock)

    @property
    def front(self) -> ssl.SSLContext:
        """The context to give the server once; it never changes."""
        return self._front

    @property
    def info(self) -> CertificateInfo:
        return self._info

    @property
    def not_after(self) -> datetime:
        return self._info.not_after

    @property
    def healthy(self) -> bool:
        return self._last_error is None

    @property
    def last_error(self) -> CertificateError | None:
        return self._last_error

    def swap(self, cert_pem: bytes, key_pem: bytes) -> CertificateInfo:
        """Serve ``cert_pem``/``key_pem`` to every handshake that starts from now on.

        On a CertificateError the previous certificate stays in service, ``healthy`` turns False, and the
        error is re-raised for the caller to log.
        """
        try:
            ctx = build_server_context(cert_pem, key_pem, self._client_ca_pem, now=self._clock())
        except CertificateError as exc:
            self._last_error = exc
            raise
        # One reference assignment: a handshake reads either the old context or the new one, never a mix.
        self._current = ctx
        self._info = describe_certificate(cert_pem)
        self._last_error = None
        return self._info

    def record_failure(self, error: CertificateError) -> None:
        """Note a failure that happened before :meth:`swap` could be tried (e.g. unreadable files)."""
        self._last_error = error

    def _select_context(
        self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, ctx: ssl.SSLContext
    ) -> None:
        current = self._current
        if conn.context is not current:
            conn.context = current


class UvicornConfigLike(Protocol):
    """The part of ``uvicorn.Config`` the installer touches (this package may not import uvicorn)."""

    loaded: bool
    ssl: ssl.SSLContext | None

    def load(self) -> None: ...


def install_into_uvicorn_config(config: UvicornConfigLike, reloadable: ReloadableContext) -> None:
    """Make a ``uvicorn.Config`` serve TLS through ``reloadable``.

    Contract for the caller: build ``uvicorn.Config(app, host=..., port=...)`` *without* ``ssl_certfile``,
    ``ssl_keyfile`` or ``ssl_context_factory``, call this, then run ``uvicorn.Server(config).serve()``.
    ``Config.load()`` assigns ``config.ssl`` (None without certificate files) and ``Server.serve()`` calls
    ``load()`` only while ``config.loaded`` is False, so loading here first and then replacing ``config.ssl``
    is what makes ``loop.create_server(..., ssl=config.ssl)`` use the front context. Only single-process
    uvicorn is supported (``workers=1``, no ``reload``): other modes rebuild the config in child processes.
    """
    if not config.loaded:
        config.load()
    config.ssl = reloadable.front


@contextlib.contextmanager
def _pem_paths(cert_pem: bytes, key_pem: bytes) -> Iterator[tuple[str, str]]:
    """Paths OpenSSL can open for PEM bytes held in memory; gone when the block exits.

    ``ssl`` loads certificate chains from paths only. On Linux an anonymous memory file reached through
    ``/proc/self/fd`` keeps the key off every filesystem, which also works with a read-only root filesystem.
    Elsewhere a private (0700) temporary directory holds the files just long enough to load them.
    """
    if sys.platform == "linux" and os.path.isdir("/proc/self/fd"):
        fds: list[int] = []
        try:
            for name, data in (("tls.crt", cert_pem), ("tls.key", key_pem)):
                fd = os.memfd_create(name, os.MFD_CLOEXEC)
                fds.append(fd)
                os.write(fd, data)
            yield f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}"
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="webhook-tls-") as directory:
        os.chmod(directory, 0o700)
        paths = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
        for path, data in zip(paths, (cert_pem, key_pem), strict=True):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        yield paths
