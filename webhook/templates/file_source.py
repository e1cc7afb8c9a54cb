"""Folder source: ConfigMap manifests in a directory, re-read when their contents change.

Works for a folder a user edits and for a ConfigMap volume, where the kubelet writes a new
timestamped directory and swaps the ``..data`` symlink atomically. Files are always opened through
their visible names (never through cached symlink targets), hidden entries (``..data``,
``..2026_...``) are not listed, and a change is taken only once two reads ``settle_seconds`` apart
agree, so a file caught half-written is never loaded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from webhook.core.security import TemplateSecurityPolicy
from webhook.templates.errors import TemplateError
from webhook.templates.parsing import load_manifests, parse_template, template_documents, unusable_template
from webhook.templates.schema import DEFAULT_KUBERNETES_VERSION
from webhook.templates.store import DocumentResult, TemplateStore

log = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml")


def read_folder(folder: Path) -> dict[str, str]:
    """Visible YAML files by name; a file that vanishes mid-read is simply absent."""
    contents: dict[str, str] = {}
    if not folder.is_dir():
        raise TemplateError(str(folder), "", "", "not a directory")
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix not in SUFFIXES:
            continue
        try:
            contents[path.name] = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            continue
        except (OSError, UnicodeDecodeError) as exc:
            contents[path.name] = f"\0unreadable: {exc}"
    return contents


def stat_signature(folder: Path) -> tuple[tuple[str, int, int, int, int], ...] | None:
    """Name, device, inode, size and mtime of every visible YAML file, following symlinks.

    The kubelet's ``..data`` swap points the visible names at new files (new inodes), and an edit
    in place changes size or mtime; None when the folder cannot be listed right now.
    """
    try:
        entries = []
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.suffix not in SUFFIXES:
                continue
            st = path.stat()
            entries.append((path.name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(entries)
    except OSError:
        return None


def digest(contents: Mapping[str, str]) -> str:
    hasher = hashlib.sha256()
    for name, text in sorted(contents.items()):
        hasher.update(name.encode() + b"\0" + text.encode("utf-8", "replace") + b"\0")
    return hasher.hexdigest()


def parse_folder(
    folder: Path,
    contents: Mapping[str, str],
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    previous: Mapping[str, list[str]] | None = None,
    security: TemplateSecurityPolicy | None = None,
) -> tuple[dict[str, DocumentResult], dict[str, list[str]]]:
    """Every template document in the files, keyed by a stable id, plus the ids each file produced.

    A file that cannot be read as YAML reports its error against the documents it produced last
    time, so the store keeps their last good versions instead of dropping them.
    """
    results: dict[str, DocumentResult] = {}
    produced: dict[str, list[str]] = {}
    for name, text in contents.items():
        path = str(folder / name)
        try:
            if text.startswith("\0unreadable: "):
                raise TemplateError(path, "", "", text[len("\0unreadable: ") :])
            manifests = load_manifests(text, path)
        except TemplateError as exc:
            ids = (previous or {}).get(name) or [path]
            produced[name] = ids
            results.update(dict.fromkeys(ids, exc))
            continue
        ids = []
        for manifest in manifests:
            metadata = manifest.get("metadata")
            source = f"{path}: ConfigMap {metadata.get('name') if isinstance(metadata, dict) else None}"
            documents = list(template_documents(manifest, source, None))
            for document in documents:
                doc_id = f"{source} key {document.key}"
                ids.append(doc_id)
                try:
                    results[doc_id] = parse_template(document, kubernetes_version, security)
                except TemplateError as exc:
                    results[doc_id] = exc
            if not documents and (problem := unusable_template(manifest, source)) is not None:
                doc_id = f"{source} key {problem.key}"
                ids.append(doc_id)
                results[doc_id] = problem
        produced[name] = ids
    return results, produced


def load_templates(
    folder: Path,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    security: TemplateSecurityPolicy | None = None,
) -> list[DocumentResult]:
    """One-shot read for the offline CLI: every template or error found in the folder."""
    results, _ = parse_folder(folder, read_folder(folder), kubernetes_version, security=security)
    return list(results.values())


class FolderTemplateSource:
    """Polls one folder and feeds the store; ``sync()`` may also be called directly."""

    def __init__(
        self,
        store: TemplateStore,
        folder: Path,
        *,
        kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
        poll_seconds: float = 1.0,
        settle_seconds: float = 0.1,
        sleep: Callable[[float], bool] | None = None,
        security: TemplateSecurityPolicy | None = None,
    ) -> None:
        self.store = store
        self.folder = folder
        self.source_id = f"folder:{folder}"
        self._version = kubernetes_version
        self._security = security
        self._poll = poll_seconds
        self._settle = settle_seconds
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._digest: str | None = None
        self._signature: tuple[tuple[str, int, int, int, int], ...] | None = None
        self._produced: dict[str, list[str]] = {}
        self._thread: threading.Thread | None = None
        store.expect_source(self.source_id)

    def sync(self) -> bool:
        """Read the folder until two reads agree, then publish it if it changed. True if it did.

        A poll whose file metadata is unchanged reads nothing: with 1,000 templates, re-reading and
        hashing every file each second cost 4 % of a core and showed in the request p99.
        """
        signature = stat_signature(self.folder)
        if signature is not None and signature == self._signature:
            self.store.mark_synced(self.source_id)
            return False
        contents = read_folder(self.folder)
        while True:
            if self._sleep(self._settle):
                return False
            again = read_folder(self.folder)
            if again == contents:
                break
            contents = again
        current = digest(contents)
        if current == self._digest:
            self._signature = signature
            self.store.mark_synced(self.source_id)
            return False
        results, self._produced = parse_folder(
            self.folder, contents, self._version, self._produced, self._security
        )
        self.store.replace_source(self.source_id, results)
        self._digest = current
        self._signature = signature
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"templates {self.folder}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except TemplateError as exc:
                log.warning("template folder unreadable, keeping the last good templates: %s", exc)
            except Exception:
                log.exception("template folder poll failed; keeping the last good templates")
            if self._sleep(self._poll):
                return
