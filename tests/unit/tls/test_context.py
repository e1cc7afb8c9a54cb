from __future__ import annotations

import os
import ssl
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from tests.unit.tls.conftest import ISSUED_AT
from tests.unit.tls.tlstools import (
    HandshakeRefused,
    client_context,
    handshake,
    serial_of,
    served_serial,
)
from webhook.tls import (
    TLS12_CIPHERS,
    CertificateAuthority,
    CertificateBundle,
    CertificateParseError,
    CertificateValidityError,
    KeyMismatchError,
    ReloadableContext,
    build_server_context,
    install_into_uvicorn_config,
    issue_ca,
    issue_client_certificate,
)
from webhook.tls import context as context_module


def _insecure_client(*, cipher: str | None = None, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client that trusts anything, so a failure can only come from the server's policy."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Old protocol versions are deprecated in ssl: exactly what these clients exist to offer.
        warnings.simplefilter("ignore", DeprecationWarning)
        if version is not None:
            ctx.minimum_version = version
            ctx.maximum_version = version
    if cipher is not None:
        ctx.set_ciphers(f"{cipher}:@SECLEVEL=0")
    return ctx


def test_a_default_client_negotiates_tls13_and_verifies_the_service_name(bundle: CertificateBundle) -> None:
    server = build_server_context(bundle.cert_pem, bundle.key_pem)
    client, _ = handshake(server, client_context(bundle.ca_pem))
    assert client.version() == "TLSv1.3"
    assert served_serial(client) == serial_of(bundle.cert_pem)


def test_tls12_is_offered_only_with_ecdhe_and_aead() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers(TLS12_CIPHERS)
    tls12 = [c for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12
    assert all(c["kea"] == "kx-ecdhe" and c["aead"] for c in tls12), tls12


def test_a_tls11_client_is_refused_by_the_server(bundle: CertificateBundle) -> None:
    server = build_server_context(bundle.cert_pem, bundle.key_pem)
    with pytest.raises(HandshakeRefused) as refused:
        handshake(server, _insecure_client(cipher="DEFAULT", version=ssl.TLSVersion.TLSv1_1))
    # The client did offer TLS 1.1 (it got as far as the server) and the server said no.
    assert refused.value.side == "server"
    assert "UNSUPPORTED_PROTOCOL" in refused.value.error.reason.upper()


@pytest.mark.parametrize("cipher", ["AES128-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA"])
def test_a_tls12_client_limited_to_non_aead_or_non_ecdhe_suites_is_refused(
    bundle: CertificateBundle, cipher: str
) -> None:
    server = build_server_context(bundle.cert_pem, bundle.key_pem)
    with pytest.raises(HandshakeRefused) as refused:
        handshake(server, _insecure_client(cipher=cipher, version=ssl.TLSVersion.TLSv1_2))
    assert refused.value.side == "server"
    assert refused.value.error.reason == "NO_SHARED_CIPHER"


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_a_tls12_client_with_an_aead_suite_is_served(bundle: CertificateBundle, cipher: str) -> None:
    server = build_server_context(bundle.cert_pem, bundle.key_pem)
    client, _ = handshake(server, _insecure_client(cipher=cipher, version=ssl.TLSVersion.TLSv1_2))
    assert client.version() == "TLSv1.2"
    assert client.cipher()[0] == cipher  # type: ignore[index]


def test_a_key_from_another_pair_is_rejected(
    bundle: CertificateBundle, other_bundle: CertificateBundle
) -> None:
    with pytest.raises(KeyMismatchError, match="does not belong"):
        build_server_context(bundle.cert_pem, other_bundle.key_pem)


def test_an_expired_certificate_is_rejected(bundle: CertificateBundle) -> None:
    with pytest.raises(CertificateValidityError, match="expired"):
        build_server_context(bundle.cert_pem, bundle.key_pem, now=ISSUED_AT + timedelta(days=31))


def test_a_certificate_from_the_future_is_rejected(bundle: CertificateBundle) -> None:
    with pytest.raises(CertificateValidityError, match="not valid before"):
        build_server_context(bundle.cert_pem, bundle.key_pem, now=ISSUED_AT - timedelta(hours=1))


@pytest.mark.parametrize("which", ["cert", "key"])
def test_unreadable_pem_is_rejected(bundle: CertificateBundle, which: str) -> None:
    cert, key = (b"garbage", bundle.key_pem) if which == "cert" else (bundle.cert_pem, b"garbage")
    with pytest.raises(CertificateParseError):
        build_server_context(cert, key)


def test_a_chain_with_intermediates_is_served_leaf_first(
    ca: CertificateAuthority, bundle: CertificateBundle
) -> None:
    server = build_server_context(bundle.cert_pem + ca.cert_pem, bundle.key_pem)
    client, _ = handshake(server, client_context(bundle.ca_pem))
    assert served_serial(client) == serial_of(bundle.cert_pem)


class TestClientCertificates:
    @pytest.fixture
    def server(self, ca: CertificateAuthority, bundle: CertificateBundle) -> ssl.SSLContext:
        return build_server_context(bundle.cert_pem, bundle.key_pem, client_ca_pem=ca.cert_pem)

    def test_a_client_without_a_certificate_is_refused(
        self, server: ssl.SSLContext, bundle: CertificateBundle
    ) -> None:
        with pytest.raises(HandshakeRefused) as refused:
            handshake(server, client_context(bundle.ca_pem))
        assert refused.value.side == "server"

    def test_a_client_with_a_certificate_from_the_ca_is_served(
        self, server: ssl.SSLContext, ca: CertificateAuthority, bundle: CertificateBundle, tmp_path: Path
    ) -> None:
        cert = issue_client_certificate(ca, "kube-apiserver", now=ISSUED_AT)
        _, served = handshake(server, client_context(bundle.ca_pem, cert, tmp_path))
        peer = served.getpeercert()
        assert peer is not None
        assert peer["subject"] == ((("commonName", "kube-apiserver"),),)

    def test_a_client_with_a_certificate_from_another_ca_is_refused(
        self, server: ssl.SSLContext, bundle: CertificateBundle, tmp_path: Path
    ) -> None:
        stranger = issue_client_certificate(issue_ca(now=ISSUED_AT), "mallory", now=ISSUED_AT)
        with pytest.raises(HandshakeRefused) as refused:
            handshake(server, client_context(bundle.ca_pem, stranger, tmp_path))
        assert refused.value.side == "server"

    def test_an_unreadable_client_ca_is_rejected(self, bundle: CertificateBundle) -> None:
        with pytest.raises(CertificateParseError, match="client CA"):
            build_server_context(bundle.cert_pem, bundle.key_pem, client_ca_pem=b"garbage")


class TestReloadableContext:
    def test_new_handshakes_get_the_swapped_certificate(
        self, bundle: CertificateBundle, other_bundle: CertificateBundle
    ) -> None:
        reloadable = ReloadableContext.from_bundle(bundle)
        client, _ = handshake(reloadable.front, client_context(bundle.ca_pem))
        assert served_serial(client) == serial_of(bundle.cert_pem)
        info = reloadable.swap(other_bundle.cert_pem, other_bundle.key_pem)
        client, _ = handshake(reloadable.front, client_context(bundle.ca_pem))
        assert served_serial(client) == serial_of(other_bundle.cert_pem) == info.serial_number
        assert reloadable.not_after == info.not_after
        assert reloadable.healthy

    def test_the_swap_happens_for_clients_that_send_no_sni(
        self, bundle: CertificateBundle, other_bundle: CertificateBundle
    ) -> None:
        # The mechanism rests on OpenSSL calling the servername callback even without the extension.
        reloadable = ReloadableContext.from_bundle(bundle)
        seen: list[str | None] = []
        select = reloadable.front.sni_callback
        assert select is not None

        def spy(conn: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> int | None:
            seen.append(name)
            return select(conn, name, ctx)  # type: ignore[arg-type]

        reloadable.front.sni_callback = spy  # type: ignore[assignment]
        reloadable.swap(other_bundle.cert_pem, other_bundle.key_pem)
        client_ctx = client_context(bundle.ca_pem)
        client_ctx.check_hostname = False
        client, _ = handshake(reloadable.front, client_ctx, server_hostname=None)
        assert seen == [None]
        assert served_serial(client) == serial_of(other_bundle.cert_pem)

    def test_a_bad_swap_keeps_the_old_certificate_and_reports_unhealthy(
        self, bundle: CertificateBundle, other_bundle: CertificateBundle
    ) -> None:
        reloadable = ReloadableContext.from_bundle(bundle)
        before = reloadable.info
        with pytest.raises(KeyMismatchError):
            reloadable.swap(other_bundle.cert_pem, bundle.key_pem)
        assert not reloadable.healthy
        assert isinstance(reloadable.last_error, KeyMismatchError)
        assert reloadable.info == before
        client, _ = handshake(reloadable.front, client_context(bundle.ca_pem))
        assert served_serial(client) == serial_of(bundle.cert_pem)
        reloadable.swap(other_bundle.cert_pem, other_bundle.key_pem)
        assert reloadable.healthy
        assert reloadable.last_error is None

    def test_an_expired_swap_is_refused_by_the_injected_clock(
        self, bundle: CertificateBundle, other_bundle: CertificateBundle
    ) -> None:
        clock = [ISSUED_AT]
        reloadable = ReloadableContext.from_bundle(bundle, clock=lambda: clock[0])
        clock[0] = ISSUED_AT + timedelta(days=60)
        with pytest.raises(CertificateValidityError):
            reloadable.swap(other_bundle.cert_pem, other_bundle.key_pem)
        assert reloadable.info.serial_number == serial_of(bundle.cert_pem)

    def test_the_server_never_starts_without_a_good_certificate(
        self, bundle: CertificateBundle, other_bundle: CertificateBundle
    ) -> None:
        with pytest.raises(KeyMismatchError):
            ReloadableContext(bundle.cert_pem, other_bundle.key_pem)

    def test_client_verification_survives_a_swap(
        self,
        ca: CertificateAuthority,
        bundle: CertificateBundle,
        other_bundle: CertificateBundle,
        tmp_path: Path,
    ) -> None:
        reloadable = ReloadableContext.from_bundle(bundle, client_ca_pem=ca.cert_pem)
        reloadable.swap(other_bundle.cert_pem, other_bundle.key_pem)
        with pytest.raises(HandshakeRefused):
            handshake(reloadable.front, client_context(bundle.ca_pem))
        cert = issue_client_certificate(ca, "kube-apiserver", now=ISSUED_AT)
        client, _ = handshake(reloadable.front, client_context(bundle.ca_pem, cert, tmp_path))
        assert served_serial(client) == serial_of(other_bundle.cert_pem)


class _FakeUvicornConfig:
    def __init__(self, loaded: bool) -> None:
        self.loaded = loaded
        self.ssl: ssl.SSLContext | None = None
        self.loads = 0

    def load(self) -> None:
        self.loads += 1
        self.loaded = True
        self.ssl = None


@pytest.mark.parametrize("loaded", [False, True])
def test_installing_loads_the_config_once_then_replaces_its_ssl(
    bundle: CertificateBundle, loaded: bool
) -> None:
    reloadable = ReloadableContext.from_bundle(bundle)
    config = _FakeUvicornConfig(loaded)
    install_into_uvicorn_config(config, reloadable)
    assert config.ssl is reloadable.front
    assert config.loads == (0 if loaded else 1)


def test_pem_bytes_leave_no_open_descriptors(bundle: CertificateBundle) -> None:
    before = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()
    build_server_context(bundle.cert_pem, bundle.key_pem)
    after = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()
    assert after <= before


def test_without_memfd_the_temporary_files_are_private_and_removed(
    bundle: CertificateBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context_module.sys, "platform", "darwin")
    monkeypatch.setattr(context_module.tempfile, "tempdir", str(tmp_path))
    modes: list[tuple[int, int]] = []
    real_load = ssl.SSLContext.load_cert_chain

    def spy(self: ssl.SSLContext, certfile: str, keyfile: str) -> None:
        modes.append((os.stat(os.path.dirname(certfile)).st_mode & 0o777, os.stat(keyfile).st_mode & 0o777))
        real_load(self, certfile, keyfile)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    server = build_server_context(bundle.cert_pem, bundle.key_pem)
    assert modes == [(0o700, 0o600)]
    assert list(tmp_path.iterdir()) == []
    client, _ = handshake(server, client_context(bundle.ca_pem))
    assert served_serial(client) == serial_of(bundle.cert_pem)
