"""Serving certificates: issue them, load them, serve them, and replace them while the server runs.

Stands alone: imports the standard library and ``cryptography`` only (runtime wires it to uvicorn).
"""

from webhook.tls.context import (
    TLS12_CIPHERS,
    ReloadableContext,
    UvicornConfigLike,
    build_server_context,
    install_into_uvicorn_config,
    utc_now,
    validate_pair,
)
from webhook.tls.errors import (
    CertificateError,
    CertificateParseError,
    CertificateSourceError,
    CertificateValidityError,
    KeyMismatchError,
)
from webhook.tls.files import BundlePaths, write_bundle
from webhook.tls.issuing import (
    CLOCK_SKEW_ALLOWANCE,
    CertificateAuthority,
    CertificateBundle,
    CertificateInfo,
    bundle_digest,
    describe_certificate,
    issue_bundle,
    issue_ca,
    issue_client_certificate,
    issue_serving_certificate,
    service_dns_names,
)
from webhook.tls.sources import (
    CertificateReloader,
    CertificateSource,
    FileCertificateSource,
    GeneratedCertificateSource,
)

__all__ = [
    "CLOCK_SKEW_ALLOWANCE",
    "TLS12_CIPHERS",
    "BundlePaths",
    "CertificateAuthority",
    "CertificateBundle",
    "CertificateError",
    "CertificateInfo",
    "CertificateParseError",
    "CertificateReloader",
    "CertificateSource",
    "CertificateSourceError",
    "CertificateValidityError",
    "FileCertificateSource",
    "GeneratedCertificateSource",
    "KeyMismatchError",
    "ReloadableContext",
    "UvicornConfigLike",
    "build_server_context",
    "bundle_digest",
    "describe_certificate",
    "install_into_uvicorn_config",
    "issue_bundle",
    "issue_ca",
    "issue_client_certificate",
    "issue_serving_certificate",
    "service_dns_names",
    "utc_now",
    "validate_pair",
    "write_bundle",
]
