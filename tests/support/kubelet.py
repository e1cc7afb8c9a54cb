"""A folder updated exactly as the kubelet's AtomicWriter updates a Secret or ConfigMap volume.

The new files go into a fresh ``..<timestamp>`` folder, a ``..data_tmp`` symlink to it is renamed over
``..data``, the visible names (``tls.crt``) link through ``..data``, and the previous folder is
removed. The one writer the tests and the benchmarks (bench/reliability) use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from webhook.tls import CertificateBundle


class KubeletVolume:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._generation = 0

    def path(self, name: str) -> Path:
        return self.root / name

    def write(self, files: Mapping[str, bytes | str]) -> float:
        """Publish ``files`` as the volume's whole content; the monotonic time of the ``..data`` switch."""
        self._generation += 1
        stamp = datetime.now(UTC).strftime("%Y_%m_%d_%H_%M_%S")
        folder = self.root / f"..{stamp}.{self._generation:09d}"
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
        data_link = self.root / "..data"
        old = os.readlink(data_link) if data_link.is_symlink() else None
        os.symlink(folder.name, self.root / "..data_tmp")
        os.rename(self.root / "..data_tmp", data_link)
        switched = time.monotonic()
        for name in files:
            if not (self.root / name).is_symlink():
                os.symlink(f"..data/{name}", self.root / name)
        if old is not None:
            for child in (self.root / old).iterdir():
                child.unlink()
            (self.root / old).rmdir()
        return switched

    def write_bundle(self, bundle: CertificateBundle) -> float:
        return self.write({"tls.crt": bundle.cert_pem, "tls.key": bundle.key_pem, "ca.crt": bundle.ca_pem})
