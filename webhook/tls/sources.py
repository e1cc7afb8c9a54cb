"""Where serving certificates come from, and the loop that swaps new ones into the running server.

A source answers two questions: ``fingerprint()`` (cheap: has anything changed?) and ``load()`` (the bundle
itself). :class:`CertificateReloader` polls a source and hands changed bundles to a
:class:`~webhook.tls.context.ReloadableContext`, which keeps the previous certificate when a new one is bad.

Mounted Secrets. The kubelet updates a Secret volume by writing a new timestamped directory, pointing a
temporary ``..data_tmp`` symlink at it and renaming that over ``..data``; ``tls.crt`` is itself a symlink to
``..data/tls.crt``. :class:`FileCertificateSource` therefore opens the user-given paths afresh on every poll
and never caches a resolved path, so it always follows the current ``..data``. Certificate and key are two
separate reads, so one poll can straddle the rename and read an old certificate with a new key: that pair
fails validation, the old one stays in service, and the next poll, whose digest differs, tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from webhook.tls.context import Clock, ReloadableContext, utc_now
from webhook.tls.errors import CertificateError, CertificateSourceError
from webhook.tls.issuing import (
    CA_LIFETIMES,
    SERVING_DAYS,
    CertificateAuthority,
    CertificateBundle,
    CertificateInfo,
    describe_certificate,
    issue_ca,
    issue_serving_certificate,
)

logger = logging.getLogger(__name__)


OnChange = Callable[[bool, datetime | None], None]


class CertificateSource(Protocol):
    def fingerprint(self) -> str:
        """A digest that changes whenever ``load()`` would return different bytes; raises CertificateError."""
        ...

    def load(self) -> CertificateBundle:
        """The current bundle, unvalidated (the context validates); raises CertificateError."""
        ...


class FileCertificateSource:
    """PEM files on disk, typically a mounted ``kubernetes.io/tls`` Secret; ``ca_path`` is optional."""

    def __init__(
        self,
        cert_path: str | os.PathLike[str],
        key_path: str | os.PathLike[str],
        ca_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self._cert_path = cert_path
        self._key_path = key_path
        self._ca_path = ca_path

    def fingerprint(self) -> str:
        # The files are a few kilobytes; hashing contents is exact where mtimes are not (symlink swaps
        # keep the link's own mtime, and a copied file may keep its old one).
        return self.load().digest()

    def load(self) -> CertificateBundle:
        return CertificateBundle(
            cert_pem=_read(self._cert_path),
            key_pem=_read(self._key_path),
            ca_pem=_read(self._ca_path) if self._ca_path is not None else b"",
        )


class GeneratedCertificateSource:
    """A self-signed CA and serving certificate made in memory, re-issued before they run out.

    The leaf is re-issued once less than a third of its lifetime remains, under the same CA so clients
    that trust ``ca_pem`` keep working; the CA (``ca_days``, ten times ``days`` by default) is re-issued
    the same way, which changes ``ca_pem``: whoever registered the caBundle must register it again.
    Re-issuing happens lazily, when the source is polled.
    """

    def __init__(
        self,
        dns_names: Sequence[str],
        days: int = SERVING_DAYS,
        clock: Clock = utc_now,
        *,
        ip_addresses: Sequence[str] = (),
        ca_days: int | None = None,
    ) -> None:
        if not dns_names:
            raise ValueError("a generated certificate needs at least one DNS name")
        self._dns_names = tuple(dns_names)
        self._ip_addresses = tuple(ip_addresses)
        self._days = days
        self._ca_days = ca_days if ca_days is not None else days * CA_LIFETIMES
        self._clock = clock
        self._ca: CertificateAuthority | None = None
        self._ca_info: CertificateInfo | None = None
        self._bundle: CertificateBundle | None = None
        self._leaf_info: CertificateInfo | None = None

    @property
    def ca_pem(self) -> bytes:
        return self.load().ca_pem

    def fingerprint(self) -> str:
        return self.load().digest()

    def load(self) -> CertificateBundle:
        now = self._clock()
        if self._ca is None or self._ca_info is None or _renewal_due(self._ca_info, now):
            self._ca = issue_ca(now=now, days=self._ca_days)
            self._ca_info = describe_certificate(self._ca.cert_pem)
            self._bundle = None
        if self._bundle is None or self._leaf_info is None or _renewal_due(self._leaf_info, now):
            self._bundle = issue_serving_certificate(
                self._ca, self._dns_names, now=now, days=self._days, ip_addresses=self._ip_addresses
            )
            self._leaf_info = describe_certificate(self._bundle.cert_pem)
        return self._bundle


class CertificateReloader:
    """Poll ``source`` and swap changed bundles into ``context``; one log line per change.

    ``on_change(ok, not_after)`` runs after every reload attempt (``not_after`` of the certificate in service
    afterwards, the old one when ``ok`` is False) so the caller can update metrics. Pass
    ``current_digest=bundle.digest()`` for the bundle the context was built from, or the first poll swaps
    the same bundle in again (harmless, one extra log line).
    """

    def __init__(
        self,
        source: CertificateSource,
        context: ReloadableContext,
        *,
        interval: float,
        on_change: OnChange | None = None,
        current_digest: str | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._source = source
        self._context = context
        self._interval = interval
        self._on_change = on_change
        # Digest of the last bundle tried, good or bad: unchanged bad files are not retried (or re-logged)
        # every poll, and any change at all, including the second half of a rotation, is.
        self._last_digest = current_digest
        self._source_failure: str | None = None

    def poll(self) -> bool | None:
        """One check: None if nothing changed, True if a new certificate is in service, False if not."""
        try:
            digest = self._source.fingerprint()
            if digest == self._last_digest:
                return None
            bundle = self._source.load()
        except CertificateError as exc:
            return self._source_failed(exc)
        self._source_failure = None
        self._last_digest = bundle.digest()
        old = self._context.info
        try:
            new = self._context.swap(bundle.cert_pem, bundle.key_pem)
        except CertificateError as exc:
            logger.warning(
                "certificate reload rejected (%s): %s; keeping serial %x, valid until %s",
                exc.reason,
                exc.message,
                old.serial_number,
                old.not_after.isoformat(),
            )
            self._notify(ok=False)
            return False
        logger.info(
            "serving certificate replaced: serial %x -> %x, subject %s, names %s, valid until %s",
            old.serial_number,
            new.serial_number,
            new.subject,
            ",".join(new.sans),
            new.not_after.isoformat(),
        )
        self._notify(ok=True)
        return True

    async def run(self, stop_event: asyncio.Event) -> None:
        """Poll every ``interval`` seconds until ``stop_event`` is set; never raises for a bad certificate."""
        while not stop_event.is_set():
            try:
                self.poll()
            except Exception:
                # The loop must outlive surprises (a bug, a callback that raises): a dead reloader would
                # silently serve one certificate until it expires.
                logger.exception("certificate poll failed unexpectedly; retrying in %.1f s", self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=self._interval)

    def _source_failed(self, exc: CertificateError) -> bool:
        self._context.record_failure(exc)
        # Forget the last digest: when the source recovers, even with identical bytes, the swap runs again
        # and its validation decides health, instead of the failure sticking until the bytes change.
        self._last_digest = None
        # A missing file fails every poll; say so once, and again only when the reason changes.
        if self._source_failure != exc.reason:
            self._source_failure = exc.reason
            logger.warning(
                "certificate source unusable (%s): %s; keeping serial %x",
                exc.reason,
                exc.message,
                self._context.info.serial_number,
            )
            self._notify(ok=False)
        return False

    def _notify(self, *, ok: bool) -> None:
        if self._on_change is not None:
            self._on_change(ok, self._context.not_after)


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise CertificateSourceError(f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from exc


def _renewal_due(info: CertificateInfo, now: datetime) -> bool:
    return info.not_after - now < (info.not_after - info.not_before) / 3


__all__ = [
    "CertificateReloader",
    "CertificateSource",
    "FileCertificateSource",
    "GeneratedCertificateSource",
]


def serving_certificate_source(
    cert_file: os.PathLike[str] | str | None, key_file: os.PathLike[str] | str | None, namespace: str
) -> CertificateSource:
    """The files when both are given; else a self-signed certificate for the in-cluster Service names
    (``sidecar-injector[.NAMESPACE[.svc]]``) and loopback, for a local trial."""
    if cert_file is not None and key_file is not None:
        return FileCertificateSource(cert_file, key_file)
    service = "sidecar-injector"
    names = ["localhost", service, f"{service}.{namespace}", f"{service}.{namespace}.svc"]
    return GeneratedCertificateSource(names, ip_addresses=["127.0.0.1", "::1"])
