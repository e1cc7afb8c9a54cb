"""Why a certificate cannot be put in service.

Every error carries a stable ``reason`` token for logs, metrics and readiness; nothing branches on message
text. A failed reload never takes the serving certificate out of service: callers keep the previous one.

    CertificateError
    ├── CertificateSourceError      the files cannot be read (missing, unreadable, half-written)
    ├── CertificateParseError       the PEM does not hold a certificate or a private key
    ├── KeyMismatchError            the private key does not belong to the certificate
    └── CertificateValidityError    the certificate is expired or not valid yet at the given instant
"""

from __future__ import annotations


class CertificateError(Exception):
    """Base of every refusal to load, issue or serve a certificate."""

    reason = "certificate-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CertificateSourceError(CertificateError):
    reason = "certificate-source-unreadable"


class CertificateParseError(CertificateError):
    reason = "certificate-unparseable"


class KeyMismatchError(CertificateError):
    reason = "certificate-key-mismatch"


class CertificateValidityError(CertificateError):
    reason = "certificate-not-valid-now"
