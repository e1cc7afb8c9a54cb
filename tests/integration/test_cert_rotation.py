"""Certificate rotation on a live uvicorn server: files swapped the kubelet's way, no request lost.

uvicorn has no reload hook; these tests are the proof that ``install_into_uvicorn_config`` plus the
reloader's SNI-callback swap change the served certificate for new connections while requests keep flowing.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.support.kubelet import KubeletVolume
from tests.support.uvicorn_tls import WAIT, UvicornTlsServer
from webhook.tls import (
    CertificateAuthority,
    CertificateBundle,
    CertificateReloader,
    FileCertificateSource,
    ReloadableContext,
    issue_ca,
    issue_serving_certificate,
    service_dns_names,
)

pytestmark = pytest.mark.integration

POLL = 0.05


def serial(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return issue_ca(now=datetime.now(UTC))


def leaf(ca: CertificateAuthority, *, now: datetime | None = None, days: int = 30) -> CertificateBundle:
    names = [*service_dns_names("injector", "sidecars"), "localhost"]
    return issue_serving_certificate(
        ca, names, now=now or datetime.now(UTC), days=days, ip_addresses=["127.0.0.1"]
    )


class Rig:
    def __init__(self, tmp_path: Path, ca: CertificateAuthority) -> None:
        self.volume = KubeletVolume(tmp_path / "secret")
        self.first = leaf(ca)
        self.volume.write_bundle(self.first)
        self.ca_file = self.volume.root / "ca.crt"
        source = FileCertificateSource(self.volume.root / "tls.crt", self.volume.root / "tls.key")
        self.reloadable = ReloadableContext.from_bundle(source.load())
        self.events: list[bool] = []
        self.reloader = CertificateReloader(
            source,
            self.reloadable,
            interval=POLL,
            on_change=lambda ok, _: self.events.append(ok),
            current_digest=source.fingerprint(),
        )

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def served_serial(self, port: int, host: str = "localhost") -> int:
        """Serial of the leaf a fresh, verifying connection is given (SNI sent for names, not for IPs)."""
        with (
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
            self.client_context().wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der).serial_number

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            assert time.monotonic() < deadline, f"not within {WAIT} s: {what}"
            time.sleep(POLL)


@pytest.fixture
def rig(tmp_path: Path, ca: CertificateAuthority) -> Iterator[Rig]:
    yield Rig(tmp_path, ca)


def test_a_rotated_certificate_is_served_to_new_connections(rig: Rig, ca: CertificateAuthority) -> None:
    with UvicornTlsServer(rig.reloadable, rig.reloader) as server:
        assert rig.served_serial(server.port) == serial(rig.first.cert_pem)
        second = leaf(ca)
        rig.volume.write_bundle(second)
        rig.wait_for(
            lambda: rig.served_serial(server.port) == serial(second.cert_pem), "new certificate served"
        )
        # A client that sends no SNI (an IP address) is switched too.
        assert rig.served_serial(server.port, host="127.0.0.1") == serial(second.cert_pem)
        assert rig.events == [True]
        assert rig.reloadable.healthy


def test_no_request_fails_while_certificates_rotate_under_load(rig: Rig, ca: CertificateAuthority) -> None:
    rotations = [leaf(ca) for _ in range(3)]
    results: list[int] = []
    failures: list[BaseException] = []
    done = threading.Event()
    lock = threading.Lock()

    def hammer(port: int, host: str) -> None:
        # No keep-alive: every request is a new TCP connection and a full handshake, the case a swap
        # could break. Bounded by count as well as by the rotation finishing.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(verify=rig.client_context(), limits=limits, timeout=WAIT) as client:
            for _ in range(2000):
                if done.is_set():
                    return
                try:
                    status = client.get(f"https://{host}:{port}/").status_code
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(exc)
                    return
                with lock:
                    results.append(status)

    with UvicornTlsServer(rig.reloadable, rig.reloader) as server:
        hosts = ["localhost", "127.0.0.1", "localhost", "127.0.0.1"]
        threads = [threading.Thread(target=hammer, args=(server.port, h)) for h in hosts]
        for t in threads:
            t.start()
        try:
            for bundle in rotations:
                rig.wait_for(lambda: len(results) >= 20 or bool(failures), "load is flowing")
                before = len(results)
                rig.volume.write_bundle(bundle)
                rig.wait_for(
                    lambda b=bundle: rig.served_serial(server.port) == serial(b.cert_pem), "rotation"
                )
                rig.wait_for(lambda n=before: len(results) >= n + 20 or bool(failures), "load after rotation")
        finally:
            done.set()
            for t in threads:
                t.join(WAIT)
    assert failures == []
    assert results
    assert set(results) == {200}
    assert rig.events == [True, True, True]


def test_a_mismatched_pair_or_an_expired_certificate_keeps_the_old_one_in_service(
    rig: Rig, ca: CertificateAuthority
) -> None:
    other = leaf(ca)
    with UvicornTlsServer(rig.reloadable, rig.reloader) as server:
        rig.volume.write({"tls.crt": other.cert_pem, "tls.key": rig.first.key_pem, "ca.crt": ca.cert_pem})
        rig.wait_for(lambda: not rig.reloadable.healthy, "mismatch detected")
        assert rig.served_serial(server.port) == serial(rig.first.cert_pem)

        expired = leaf(ca, now=datetime.now(UTC) - timedelta(days=2), days=1)
        rig.volume.write_bundle(expired)
        rig.wait_for(lambda: rig.events == [False, False], "expired certificate rejected")
        assert not rig.reloadable.healthy
        assert rig.reloadable.last_error is not None
        assert rig.reloadable.last_error.reason == "certificate-not-valid-now"
        assert rig.served_serial(server.port) == serial(rig.first.cert_pem)
        with httpx.Client(verify=rig.client_context()) as client:
            assert client.get(f"https://localhost:{server.port}/").status_code == 200

        rig.volume.write_bundle(other)
        rig.wait_for(lambda: rig.reloadable.healthy, "recovery")
        assert rig.served_serial(server.port) == serial(other.cert_pem)
        assert rig.events == [False, False, True]
