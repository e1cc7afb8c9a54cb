from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.kubelet import KubeletVolume
from tests.unit.tls.tlstools import NOW, serial_of, swap_after_read
from webhook.tls import (
    CertificateBundle,
    CertificateSourceError,
    FileCertificateSource,
    GeneratedCertificateSource,
    describe_certificate,
    issue_bundle,
    write_bundle,
)
from webhook.tls import sources as sources_module


def _source(volume: KubeletVolume, *, with_ca: bool = True) -> FileCertificateSource:
    ca = volume.path("ca.crt") if with_ca else None
    return FileCertificateSource(volume.path("tls.crt"), volume.path("tls.key"), ca)


class TestFileSource:
    def test_the_digest_is_stable_until_the_content_changes(
        self, tmp_path: Path, bundle: CertificateBundle, other_bundle: CertificateBundle
    ) -> None:
        paths = write_bundle(bundle, tmp_path)
        source = FileCertificateSource(paths.cert, paths.key, paths.ca)
        first = source.fingerprint()
        write_bundle(bundle, tmp_path)  # rewritten, same bytes, new mtime
        assert source.fingerprint() == first == source.load().digest()
        write_bundle(other_bundle, tmp_path)
        assert source.fingerprint() != first
        assert source.load() == other_bundle

    def test_a_key_change_alone_changes_the_digest(self, tmp_path: Path, bundle: CertificateBundle) -> None:
        paths = write_bundle(bundle, tmp_path)
        source = FileCertificateSource(paths.cert, paths.key)
        first = source.fingerprint()
        paths.key.write_bytes(bundle.key_pem + b"\n")
        assert source.fingerprint() != first

    def test_without_a_ca_path_the_bundle_has_no_ca(self, tmp_path: Path, bundle: CertificateBundle) -> None:
        paths = write_bundle(bundle, tmp_path)
        assert FileCertificateSource(paths.cert, paths.key).load().ca_pem == b""

    def test_a_missing_file_is_a_source_error_naming_the_path(self, tmp_path: Path) -> None:
        source = FileCertificateSource(tmp_path / "tls.crt", tmp_path / "tls.key")
        with pytest.raises(CertificateSourceError, match=r"tls\.crt"):
            source.fingerprint()

    def test_it_follows_the_kubelets_atomic_symlink_swap(
        self, tmp_path: Path, bundle: CertificateBundle, other_bundle: CertificateBundle
    ) -> None:
        volume = KubeletVolume(tmp_path)
        volume.write_bundle(bundle)
        assert os.readlink(tmp_path / "tls.crt") == "..data/tls.crt"
        source = _source(volume)
        assert source.load() == bundle
        first = source.fingerprint()

        old_dir = os.readlink(tmp_path / "..data")
        volume.write_bundle(other_bundle)
        assert os.readlink(tmp_path / "..data") != old_dir
        assert not (tmp_path / old_dir).exists()
        assert not (tmp_path / "..data_tmp").exists()
        assert source.fingerprint() != first
        assert source.load() == other_bundle

    def test_a_read_straddling_the_swap_gives_a_digest_unlike_either_side(
        self,
        tmp_path: Path,
        bundle: CertificateBundle,
        other_bundle: CertificateBundle,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # The half-swapped moment: the kubelet renames ..data between our certificate and key reads.
        volume = KubeletVolume(tmp_path)
        volume.write_bundle(bundle)
        source = _source(volume)
        monkeypatch.setattr(sources_module, "_read", swap_after_read(volume, other_bundle))
        mixed = source.load()
        assert mixed.cert_pem == bundle.cert_pem
        assert mixed.key_pem == other_bundle.key_pem
        assert mixed.digest() not in {bundle.digest(), other_bundle.digest()}
        monkeypatch.undo()
        assert source.load() == other_bundle


class TestWriteBundle:
    def test_it_writes_the_three_files_with_private_key_permissions(
        self, tmp_path: Path, bundle: CertificateBundle
    ) -> None:
        paths = write_bundle(bundle, tmp_path / "out" / "certs")
        assert paths.ca.read_bytes() == bundle.ca_pem
        assert paths.cert.read_bytes() == bundle.cert_pem
        assert paths.key.read_bytes() == bundle.key_pem
        assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
        assert stat.S_IMODE(paths.cert.stat().st_mode) == 0o644
        assert sorted(p.name for p in paths.key.parent.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]

    def test_it_tightens_an_existing_key_file(self, tmp_path: Path, bundle: CertificateBundle) -> None:
        (tmp_path / "tls.key").write_bytes(b"old")
        (tmp_path / "tls.key").chmod(0o644)
        (tmp_path / ".tls.key.tmp").write_bytes(b"leftover")
        (tmp_path / ".tls.key.tmp").chmod(0o666)
        paths = write_bundle(bundle, tmp_path)
        assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
        assert paths.key.read_bytes() == bundle.key_pem


class TestGeneratedSource:
    def _source(self, clock: list) -> GeneratedCertificateSource:  # type: ignore[type-arg]
        return GeneratedCertificateSource(
            ["injector.sidecars.svc", "localhost"], days=30, clock=lambda: clock[0]
        )

    def test_it_issues_once_and_keeps_the_bundle_while_fresh(self) -> None:
        clock = [NOW]
        source = self._source(clock)
        first = source.load()
        assert describe_certificate(first.cert_pem).sans == ("injector.sidecars.svc", "localhost")
        clock[0] = NOW + timedelta(days=19)
        assert source.fingerprint() == first.digest()
        assert source.load() is first

    def test_it_reissues_the_leaf_under_the_same_ca_when_a_third_of_its_life_remains(self) -> None:
        clock = [NOW]
        source = self._source(clock)
        first = source.load()
        clock[0] = NOW + timedelta(days=21)
        assert source.fingerprint() != first.digest()
        second = source.load()
        assert second.ca_pem == first.ca_pem
        assert serial_of(second.cert_pem) != serial_of(first.cert_pem)
        assert describe_certificate(second.cert_pem).not_after == NOW + timedelta(days=51)

    def test_it_reissues_the_ca_when_the_ca_runs_low(self) -> None:
        clock = [NOW]
        source = self._source(clock)  # CA lives 300 days
        first_ca = source.ca_pem
        clock[0] = NOW + timedelta(days=201)
        assert source.ca_pem != first_ca

    def test_it_needs_a_name(self) -> None:
        with pytest.raises(ValueError, match="DNS name"):
            GeneratedCertificateSource([], days=1)


def test_issue_bundle_and_file_source_round_trip(tmp_path: Path) -> None:
    bundle = issue_bundle("injector", "sidecars", now=NOW)
    paths = write_bundle(bundle, tmp_path)
    assert FileCertificateSource(paths.cert, paths.key, paths.ca).load() == bundle
