from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError

from tests.unit.tls.tlstools import HOSTNAME, NAMESPACE, NOW, SERVICE
from webhook.tls import (
    CLOCK_SKEW_ALLOWANCE,
    CertificateBundle,
    CertificateParseError,
    bundle_digest,
    describe_certificate,
    issue_bundle,
    issue_ca,
    issue_client_certificate,
    service_dns_names,
)


@pytest.fixture(scope="module")
def issued() -> CertificateBundle:
    return issue_bundle(
        SERVICE, NAMESPACE, now=NOW, days=90, extra_dns_names=["localhost"], ip_addresses=["127.0.0.1"]
    )


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _verifier(bundle: CertificateBundle, at: object = NOW) -> PolicyBuilder:
    return PolicyBuilder().store(Store([_cert(bundle.ca_pem)])).time(at)  # type: ignore[arg-type]


def test_service_names_cover_every_in_cluster_form() -> None:
    assert service_dns_names("a", "b") == ("a", "a.b", "a.b.svc", "a.b.svc.cluster.local")
    assert service_dns_names("a", "b", "corp.example")[-1] == "a.b.svc.corp.example"


def test_the_serving_certificate_names_the_service_and_the_extras(issued: CertificateBundle) -> None:
    san = _cert(issued.cert_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [*service_dns_names(SERVICE, NAMESPACE), "localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


@pytest.mark.parametrize("name", [*service_dns_names(SERVICE, NAMESPACE), "localhost"])
def test_the_chain_verifies_for_each_service_name(issued: CertificateBundle, name: str) -> None:
    verifier = _verifier(issued).build_server_verifier(DNSName(name))
    chain = verifier.verify(_cert(issued.cert_pem), [])
    assert chain[-1] == _cert(issued.ca_pem)


def test_the_chain_verifies_for_the_loopback_address(issued: CertificateBundle) -> None:
    import ipaddress

    verifier = _verifier(issued).build_server_verifier(IPAddress(ipaddress.ip_address("127.0.0.1")))
    verifier.verify(_cert(issued.cert_pem), [])


def test_the_chain_does_not_verify_for_another_name(issued: CertificateBundle) -> None:
    verifier = _verifier(issued).build_server_verifier(DNSName("other.sidecars.svc"))
    with pytest.raises(VerificationError):
        verifier.verify(_cert(issued.cert_pem), [])


def test_the_chain_does_not_verify_once_expired(issued: CertificateBundle) -> None:
    verifier = _verifier(issued, NOW + timedelta(days=90, seconds=1)).build_server_verifier(DNSName(HOSTNAME))
    with pytest.raises(VerificationError):
        verifier.verify(_cert(issued.cert_pem), [])


def test_validity_comes_from_the_injected_clock(issued: CertificateBundle) -> None:
    leaf = _cert(issued.cert_pem)
    assert leaf.not_valid_after_utc == NOW + timedelta(days=90)
    assert leaf.not_valid_before_utc == NOW - CLOCK_SKEW_ALLOWANCE
    # The CA outlives the leaf so the leaf can be renewed under the same caBundle.
    assert _cert(issued.ca_pem).not_valid_after_utc == NOW + timedelta(days=900)


def test_microseconds_are_dropped_not_rounded() -> None:
    ca = issue_ca(now=NOW.replace(microsecond=999_999), days=1)
    assert _cert(ca.cert_pem).not_valid_after_utc == NOW + timedelta(days=1)


def test_the_ca_may_sign_leaves_only(issued: CertificateBundle) -> None:
    ca = _cert(issued.ca_pem)
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign


def test_the_leaf_is_a_server_certificate_that_cannot_sign(issued: CertificateBundle) -> None:
    leaf = _cert(issued.cert_pem)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert leaf.issuer == _cert(issued.ca_pem).subject


def test_keys_are_p256(issued: CertificateBundle) -> None:
    key = _cert(issued.cert_pem).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"


def test_each_issue_has_a_fresh_serial_and_key() -> None:
    a = issue_bundle(SERVICE, NAMESPACE, now=NOW)
    b = issue_bundle(SERVICE, NAMESPACE, now=NOW)
    assert _cert(a.cert_pem).serial_number != _cert(b.cert_pem).serial_number
    assert a.key_pem != b.key_pem


def test_a_client_certificate_is_for_client_auth_and_signed_by_the_ca() -> None:
    # (OpenSSL accepting it in a mutual-TLS handshake is tested in test_context.)
    ca = issue_ca(now=NOW)
    client = issue_client_certificate(ca, "kube-apiserver", now=NOW)
    leaf = _cert(client.cert_pem)
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    leaf.verify_directly_issued_by(_cert(ca.cert_pem))
    assert leaf.subject.rfc4514_string() == "CN=kube-apiserver"


def test_the_ca_bundle_is_base64_of_the_ca_pem(issued: CertificateBundle) -> None:
    assert base64.b64decode(issued.ca_bundle_base64()) == issued.ca_pem


def test_describe_reports_what_logs_need(issued: CertificateBundle) -> None:
    info = describe_certificate(issued.cert_pem)
    assert info.not_after == NOW + timedelta(days=90)
    assert info.not_before == NOW - CLOCK_SKEW_ALLOWANCE
    assert info.subject == f"CN={HOSTNAME}"
    assert info.sans == (*service_dns_names(SERVICE, NAMESPACE), "localhost", "127.0.0.1")
    assert info.serial_number == _cert(issued.cert_pem).serial_number
    assert len(info.sha256) == 64


def test_describe_reads_the_leaf_of_a_chain(issued: CertificateBundle) -> None:
    chain = issued.cert_pem + issued.ca_pem
    assert describe_certificate(chain).subject == f"CN={HOSTNAME}"


def test_describe_rejects_garbage() -> None:
    with pytest.raises(CertificateParseError):
        describe_certificate(b"not a certificate")


def test_a_naive_clock_and_a_non_positive_lifetime_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        issue_ca(now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="positive"):
        issue_ca(now=NOW, days=0)


def test_the_digest_changes_when_bytes_move_between_parts() -> None:
    assert bundle_digest(b"ab", b"c") != bundle_digest(b"a", b"bc")
    assert (
        bundle_digest(b"a", b"b", b"c")
        == CertificateBundle(ca_pem=b"c", cert_pem=b"a", key_pem=b"b").digest()
    )
