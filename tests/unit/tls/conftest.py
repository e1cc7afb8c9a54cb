from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.tls.tlstools import NAMESPACE, SERVICE
from webhook.tls import (
    CertificateAuthority,
    CertificateBundle,
    issue_ca,
    issue_serving_certificate,
    service_dns_names,
)

# Handshakes check validity against the real clock, so certificates that reach OpenSSL are issued now.
ISSUED_AT = datetime.now(UTC)


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return issue_ca(now=ISSUED_AT, days=3650)


@pytest.fixture(scope="session")
def bundle(ca: CertificateAuthority) -> CertificateBundle:
    return issue_serving_certificate(
        ca, service_dns_names(SERVICE, NAMESPACE), now=ISSUED_AT, days=30, ip_addresses=["127.0.0.1"]
    )


@pytest.fixture(scope="session")
def other_bundle(ca: CertificateAuthority) -> CertificateBundle:
    """A second serving certificate under the same CA, as a renewal would produce."""
    return issue_serving_certificate(ca, service_dns_names(SERVICE, NAMESPACE), now=ISSUED_AT, days=30)
