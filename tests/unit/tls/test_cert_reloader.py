from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.kubelet import KubeletVolume
from tests.unit.tls.tlstools import serial_of, swap_after_read
from webhook.tls import (
    CertificateBundle,
    CertificateReloader,
    FileCertificateSource,
    KeyMismatchError,
    ReloadableContext,
    issue_bundle,
)
from webhook.tls import sources as sources_module
from webhook.tls.errors import CertificateSourceError

Event = tuple[bool, datetime | None]


class Harness:
    def __init__(self, tmp_path: Path, bundle: CertificateBundle) -> None:
        self.volume = KubeletVolume(tmp_path)
        self.volume.write_bundle(bundle)
        self.source = FileCertificateSource(self.volume.path("tls.crt"), self.volume.path("tls.key"))
        self.context = ReloadableContext.from_bundle(bundle)
        self.events: list[Event] = []
        self.reloader = CertificateReloader(
            self.source,
            self.context,
            interval=0.01,
            on_change=lambda ok, not_after: self.events.append((ok, not_after)),
            current_digest=self.source.fingerprint(),
        )

    @property
    def serving(self) -> int:
        return self.context.info.serial_number


@pytest.fixture
def harness(tmp_path: Path, bundle: CertificateBundle) -> Harness:
    return Harness(tmp_path, bundle)


def test_nothing_happens_while_nothing_changes(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    assert harness.reloader.poll() is None
    assert harness.reloader.poll() is None
    assert harness.events == []
    assert caplog.records == []


def test_a_rotation_is_swapped_in_reported_and_logged_once(
    harness: Harness, other_bundle: CertificateBundle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webhook.tls")
    harness.volume.write_bundle(other_bundle)
    assert harness.reloader.poll() is True
    assert harness.reloader.poll() is None
    assert harness.serving == serial_of(other_bundle.cert_pem)
    assert harness.events == [(True, harness.context.not_after)]
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert f"{serial_of(other_bundle.cert_pem):x}" in caplog.records[0].getMessage()


def test_a_single_swap_mid_poll_is_never_seen_half_done(
    harness: Harness, other_bundle: CertificateBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fingerprint() reads the old certificate, the kubelet renames ..data, then it reads the new key: the
    # mixed digest only signals a change, and load() reads the finished rotation.
    monkeypatch.setattr(sources_module, "_read", swap_after_read(harness.volume, other_bundle, after=1))
    assert harness.reloader.poll() is True
    assert harness.serving == serial_of(other_bundle.cert_pem)
    assert harness.context.healthy


def test_a_half_swapped_load_keeps_the_old_pair_and_the_next_poll_completes_it(
    harness: Harness,
    bundle: CertificateBundle,
    other_bundle: CertificateBundle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Two rotations in quick succession: fingerprint() sees the first (reads 1, 2), load() reads its
    # certificate (3), the second lands, and the key read (4) belongs to the second.
    third = issue_bundle("injector", "sidecars", now=datetime.now(UTC))
    harness.volume.write_bundle(other_bundle)
    monkeypatch.setattr(sources_module, "_read", swap_after_read(harness.volume, third, after=3))
    assert harness.reloader.poll() is False
    monkeypatch.undo()
    assert harness.serving == serial_of(bundle.cert_pem)
    assert not harness.context.healthy
    assert isinstance(harness.context.last_error, KeyMismatchError)
    assert "keeping serial" in caplog.text
    assert harness.reloader.poll() is True
    assert harness.serving == serial_of(third.cert_pem)
    assert harness.context.healthy
    assert [ok for ok, _ in harness.events] == [False, True]


def test_a_mismatched_pair_is_rejected_once_not_every_poll(
    harness: Harness,
    bundle: CertificateBundle,
    other_bundle: CertificateBundle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old_not_after = harness.context.not_after
    harness.volume.write({"tls.crt": other_bundle.cert_pem, "tls.key": bundle.key_pem})
    assert harness.reloader.poll() is False
    assert harness.reloader.poll() is None
    assert harness.serving == serial_of(bundle.cert_pem)
    assert not harness.context.healthy
    assert harness.events == [(False, old_not_after)]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_an_expired_certificate_is_rejected(harness: Harness, bundle: CertificateBundle) -> None:
    expired = issue_bundle("injector", "sidecars", now=datetime(2020, 1, 1).astimezone(), days=1)
    harness.volume.write_bundle(expired)
    assert harness.reloader.poll() is False
    assert harness.serving == serial_of(bundle.cert_pem)
    assert harness.context.last_error is not None
    assert harness.context.last_error.reason == "certificate-not-valid-now"


def test_vanished_files_mark_unhealthy_once_and_recovery_with_the_same_bytes_heals(
    harness: Harness, bundle: CertificateBundle, caplog: pytest.LogCaptureFixture
) -> None:
    data = harness.volume.path("tls.key").read_bytes()
    harness.volume.path("tls.key").unlink()
    assert harness.reloader.poll() is False
    assert harness.reloader.poll() is False
    assert isinstance(harness.context.last_error, CertificateSourceError)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    harness.volume.path("tls.key").write_bytes(data)
    assert harness.reloader.poll() is True
    assert harness.context.healthy
    assert harness.serving == serial_of(bundle.cert_pem)
    assert [ok for ok, _ in harness.events] == [False, True]


def test_without_a_current_digest_the_first_poll_reloads_the_same_bundle(
    tmp_path: Path, bundle: CertificateBundle
) -> None:
    h = Harness(tmp_path, bundle)
    reloader = CertificateReloader(h.source, h.context, interval=60)
    assert reloader.poll() is True
    assert reloader.poll() is None


def test_the_loop_polls_until_stopped_and_survives_a_failing_callback(
    harness: Harness, other_bundle: CertificateBundle, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[bool] = []

    def explode(ok: bool, not_after: datetime | None) -> None:
        calls.append(ok)
        raise RuntimeError("metrics are down")

    reloader = CertificateReloader(harness.source, harness.context, interval=0.01, on_change=explode)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(reloader.run(stop))
        async with asyncio.timeout(10):
            while not calls:
                await asyncio.sleep(0.01)
            harness.volume.write_bundle(other_bundle)
            while harness.serving != serial_of(other_bundle.cert_pem):
                await asyncio.sleep(0.01)
            stop.set()
            await task

    asyncio.run(scenario())
    assert calls[:2] == [True, True]
    assert "failed unexpectedly" in caplog.text


def test_the_interval_must_be_positive(harness: Harness) -> None:
    with pytest.raises(ValueError, match="positive"):
        CertificateReloader(harness.source, harness.context, interval=0)
