"""Write a certificate bundle the way ``sidecar-injector certs generate`` promises (see certs/README.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from webhook.tls.issuing import CertificateBundle


@dataclass(frozen=True, slots=True)
class BundlePaths:
    ca: Path
    cert: Path
    key: Path


def write_bundle(bundle: CertificateBundle, out_dir: str | os.PathLike[str]) -> BundlePaths:
    """Write ``ca.crt``, ``tls.crt`` (0644) and ``tls.key`` (0600) into ``out_dir``, creating it if needed.

    Each file is written to a temporary name and renamed over the target, so a reader (or a server
    polling the directory) sees the old file or the new one, never a truncated one. Existing files are
    replaced. The key is created 0600 from the first byte, not chmod-ed after being written.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = BundlePaths(ca=directory / "ca.crt", cert=directory / "tls.crt", key=directory / "tls.key")
    _write_atomically(paths.ca, bundle.ca_pem, 0o644)
    _write_atomically(paths.cert, bundle.cert_pem, 0o644)
    _write_atomically(paths.key, bundle.key_pem, 0o600)
    return paths


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        # A leftover temp file from an interrupted run keeps its old mode; O_CREAT's mode would not apply.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(tmp, path)
