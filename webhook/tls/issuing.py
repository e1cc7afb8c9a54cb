"""Issue a private CA and the webhook's serving certificate, and read certificates back for logs.

Pure: no files, no environment, and the clock is a parameter (``now``, timezone-aware), so tests pin expiry
exactly. Keys are ECDSA P-256: generation takes milliseconds, which keeps start-up and tests fast, and every
kube-apiserver accepts them.

The API server calls the webhook at ``https://NAME.NS.svc:PORT``; the serving certificate therefore names
the service in all the forms a client may use (see :func:`service_dns_names`), and the CA certificate goes
base64-encoded into the MutatingWebhookConfiguration's ``caBundle``.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webhook.tls.errors import CertificateParseError

# Nodes' clocks drift; a certificate that starts "now" is rejected by a peer a few seconds behind.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)
SERVING_DAYS = 365
"""How long a serving (or client) certificate is valid unless the caller says otherwise."""
CA_LIFETIMES = 10
"""A CA outlives the leaves it signs this many times over, so re-issuing a leaf keeps the caBundle."""


@dataclass(frozen=True, slots=True)
class CertificateBundle:
    """What a server needs (leaf chain + key) and what its clients need to trust it (the CA).

    ``ca_pem`` may be empty when the CA is unknown (a mounted Secret without ``ca.crt``).
    """

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def ca_bundle_base64(self) -> str:
        """The CA as a MutatingWebhookConfiguration ``caBundle`` value (base64 of the PEM text)."""
        return base64.b64encode(self.ca_pem).decode("ascii")

    def digest(self) -> str:
        """Content digest; equal to a file source's fingerprint of the same bytes."""
        return bundle_digest(self.cert_pem, self.key_pem, self.ca_pem)


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The facts about a certificate worth a log line or a metric."""

    not_before: datetime
    not_after: datetime
    subject: str
    sans: tuple[str, ...]
    serial_number: int
    sha256: str


def bundle_digest(cert_pem: bytes, key_pem: bytes, ca_pem: bytes = b"") -> str:
    """SHA-256 over the three parts, length-prefixed so that moving bytes between parts changes it."""
    h = hashlib.sha256()
    for part in (cert_pem, key_pem, ca_pem):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def service_dns_names(service: str, namespace: str, cluster_domain: str = "cluster.local") -> tuple[str, ...]:
    """Every name under which a Service is reachable in-cluster, most specific last."""
    if not service or not namespace:
        raise ValueError("service and namespace must be non-empty")
    return (
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{cluster_domain}",
    )


def issue_ca(
    *, now: datetime, days: int = CA_LIFETIMES * SERVING_DAYS, common_name: str = "sidecar-injector-ca"
) -> CertificateAuthority:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        _validity(x509.CertificateBuilder(), now, days)
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    return CertificateAuthority(cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


def issue_serving_certificate(
    ca: CertificateAuthority,
    dns_names: Sequence[str],
    *,
    now: datetime,
    days: int = SERVING_DAYS,
    ip_addresses: Sequence[str] = (),
    common_name: str | None = None,
) -> CertificateBundle:
    """A serverAuth leaf for ``dns_names`` (and IPs), signed by ``ca``.

    Clients match the SANs; the CN (default: the first DNS name) is only for people reading logs.
    """
    if not dns_names:
        raise ValueError("a serving certificate needs at least one DNS name")
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    return _issue_leaf(
        ca, common_name or dns_names[0], sans, ExtendedKeyUsageOID.SERVER_AUTH, now=now, days=days
    )


def issue_client_certificate(
    ca: CertificateAuthority, common_name: str, *, now: datetime, days: int = SERVING_DAYS
) -> CertificateBundle:
    """A clientAuth leaf, for mutual TLS between the API server (or a test) and the webhook."""
    return _issue_leaf(ca, common_name, [], ExtendedKeyUsageOID.CLIENT_AUTH, now=now, days=days)


def issue_bundle(
    service: str,
    namespace: str,
    *,
    now: datetime,
    days: int = SERVING_DAYS,
    ca_days: int | None = None,
    extra_dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
) -> CertificateBundle:
    """A fresh CA plus a serving certificate for ``service`` in ``namespace``.

    The CA outlives the leaf (ten times by default) so that re-issuing the leaf under the same CA does not
    invalidate the ``caBundle`` already registered with the API server.
    """
    ca = issue_ca(now=now, days=ca_days if ca_days is not None else days * CA_LIFETIMES)
    names = [*service_dns_names(service, namespace), *extra_dns_names]
    return issue_serving_certificate(
        ca, names, now=now, days=days, ip_addresses=ip_addresses, common_name=f"{service}.{namespace}.svc"
    )


def describe_certificate(pem: bytes) -> CertificateInfo:
    """Validity window, subject, SANs and serial of the first certificate in ``pem`` (the leaf)."""
    cert = load_leaf_certificate(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = tuple(
            str(v) for v in (*san.get_values_for_type(x509.DNSName), *san.get_values_for_type(x509.IPAddress))
        )
    except x509.ExtensionNotFound:
        sans = ()
    return CertificateInfo(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        subject=cert.subject.rfc4514_string(),
        sans=sans,
        serial_number=cert.serial_number,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def load_leaf_certificate(pem: bytes) -> x509.Certificate:
    """The first certificate of a PEM chain; raises CertificateParseError if there is none."""
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertificateParseError(f"no PEM certificate could be read: {exc}") from exc
    return chain[0]


def load_private_key(pem: bytes) -> PrivateKeyTypes:
    """An unencrypted PEM private key; raises CertificateParseError otherwise."""
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateParseError(f"no unencrypted PEM private key could be read: {exc}") from exc


def _issue_leaf(
    ca: CertificateAuthority,
    common_name: str,
    sans: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    *,
    now: datetime,
    days: int,
) -> CertificateBundle:
    ca_cert = load_leaf_certificate(ca.cert_pem)
    ca_key = load_private_key(ca.key_pem)
    if not isinstance(ca_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise CertificateParseError("the CA key type cannot sign certificates")
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        _validity(x509.CertificateBuilder(), now, days)
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # ECDSA keys sign the handshake; they never encipher a key, so digitalSignature alone.
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return CertificateBundle(ca_pem=ca.cert_pem, cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


def _validity(builder: x509.CertificateBuilder, now: datetime, days: int) -> x509.CertificateBuilder:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if days <= 0:
        raise ValueError("days must be positive")
    # X.509 times have whole seconds; truncating keeps not_after == now + days exactly for callers.
    start = now.replace(microsecond=0)
    return (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(start - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(start + timedelta(days=days))
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
