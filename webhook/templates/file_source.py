"""Folder source: ConfigMap manifests in a directory, re-read when their contents change.

Works for a folder a user edits and for a ConfigMap volume, where the kubelet writes a new
timestamped directory and swaps the ``..data`` symlink atomically. Files are always opened through
their visible names (never through cached symlink targets) and hidden entries (``..data``,
``..2026_...``) are not listed.

A half-written file is never loaded: a file some process has open for writing is not read at all
(``file_reading``: a Linux read lease tells), its templates stay as they were and it is read again
once the writer closes it; where leases are unavailable, a change is taken only once two reads
``settle_seconds`` apart agree. An emptied or unparsable file is a broken edit: its documents keep
their last good versions and report the error. Only a file (or a ConfigMap in it) that disappears
removes templates.
"""

from __future__ import annotations

import hashlib
import logging
import operator
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from webhook.core.security import TemplateSecurityPolicy
from webhook.settings import DEFAULTS
from webhook.templates.errors import TemplateError
from webhook.templates.file_reading import Unreadable, read_template_file
from webhook.templates.parsing import (
    ManifestFile,
    parse_template,
    read_manifests,
    template_documents,
    unusable_template,
)
from webhook.templates.store import DocumentResult, TemplateStore

log = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml")
EMPTY_FILE = (
    "the file is empty (no YAML document): taken as an unfinished edit, so its templates keep their "
    "last good versions; delete the file to remove them"
)
FileContent = str | Unreadable
FileResults = dict[str, DocumentResult]


def read_folder(folder: Path) -> dict[str, FileContent]:
    """Visible YAML files by name; a file that vanishes mid-read is simply absent."""
    contents: dict[str, FileContent] = {}
    if not folder.is_dir():
        raise TemplateError(str(folder), "", "", "not a directory")
    for entry in _template_entries(folder):
        content = read_template_file(folder / entry.name)
        if content is not None:
            contents[entry.name] = content
    return contents


def _template_entries(folder: Path) -> list[os.DirEntry[str]]:
    """The visible YAML files, by name (hidden entries are the kubelet's ``..data`` and its
    timestamped folders). Listed with scandir and sorted by name in C: sorting Path objects compared
    them in Python, and with 1,000 templates the poll thread held the GIL for milliseconds every
    second, stalling the event loop for as long (docs/design.md, "Live templates")."""
    with os.scandir(folder) as listing:
        entries = [e for e in listing if not e.name.startswith(".") and e.name.endswith(SUFFIXES)]
    entries.sort(key=operator.attrgetter("name"))
    return entries


def stat_signature(folder: Path) -> tuple[tuple[str, int, int, int, int], ...] | None:
    """Name, device, inode, size and mtime of every visible YAML file, following symlinks.

    The kubelet's ``..data`` swap points the visible names at new files (new inodes), and an edit
    in place changes size or mtime; None when the folder cannot be listed right now.
    """
    try:
        signature = []
        for entry in _template_entries(folder):
            st = entry.stat()  # follows the symlink, as the kubelet's visible names are
            signature.append((entry.name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(signature)
    except OSError:
        return None


def digest(contents: Mapping[str, FileContent]) -> str:
    hasher = hashlib.sha256()
    for name, content in sorted(contents.items()):
        text = content if isinstance(content, str) else f"\0{content}"
        hasher.update(name.encode() + b"\0" + text.encode("utf-8", "replace") + b"\0")
    return hasher.hexdigest()


def parse_folder(
    folder: Path,
    contents: Mapping[str, FileContent],
    kubernetes_version: str = DEFAULTS.kubernetes_version,
    previous: Mapping[str, FileResults] | None = None,
    security: TemplateSecurityPolicy | None = None,
) -> dict[str, FileResults]:
    """Every template document of every file, by file name, then by a stable document id.

    A file that cannot be used (unreadable, not YAML, empty) reports its error against the
    documents it produced last time, so the store keeps their last good versions; a file being
    written keeps its previous results as they were (and is absent if it had none).
    """
    results: dict[str, FileResults] = {}
    for name, content in contents.items():
        path = str(folder / name)
        kept = (previous or {}).get(name) or {}
        if isinstance(content, Unreadable) and content.being_written:
            if kept:
                results[name] = dict(kept)
            continue
        try:
            if isinstance(content, Unreadable):
                raise TemplateError("", "", "", content.message, file=path)
            manifests = read_manifests(content, path)
            if manifests.empty:
                raise TemplateError("", "", "", EMPTY_FILE, file=path)
        except TemplateError as exc:
            results[name] = dict.fromkeys(kept or [path], exc)
            continue
        results[name] = _file_documents(path, manifests, kubernetes_version, security)
    return results


def _file_documents(
    path: str, manifests: ManifestFile, version: str, security: TemplateSecurityPolicy | None
) -> FileResults:
    results: FileResults = {}
    for manifest, node in manifests.objects:
        metadata = manifest.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        source = f"{path}: ConfigMap {name if isinstance(name, str) else None}"
        documents = list(template_documents(manifest, source, None, node=node, file=path))
        for document in documents:
            doc_id = f"{source} key {document.key}"
            try:
                results[doc_id] = parse_template(document, version, security)
            except TemplateError as exc:
                results[doc_id] = exc
        if not documents and (problem := unusable_template(manifest, source)) is not None:
            results[f"{source} key {problem.key}"] = problem
    return results


def load_folder(
    folder: Path,
    kubernetes_version: str = DEFAULTS.kubernetes_version,
    security: TemplateSecurityPolicy | None = None,
) -> dict[str, DocumentResult]:
    """One-shot read for the offline CLI: every template or error in the folder, by document id."""
    per_file = parse_folder(folder, read_folder(folder), kubernetes_version, security=security)
    return {doc_id: result for results in per_file.values() for doc_id, result in results.items()}


class FolderTemplateSource:
    """Polls one folder and feeds the store; ``sync()`` may also be called directly."""

    def __init__(
        self,
        store: TemplateStore,
        folder: Path,
        *,
        kubernetes_version: str = DEFAULTS.kubernetes_version,
        poll_seconds: float = DEFAULTS.template_poll_seconds,
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
        self._files: dict[str, FileResults] = {}
        self._thread: threading.Thread | None = None
        store.expect_source(self.source_id)

    def sync(self) -> bool:
        """Read the folder until two reads agree, then publish it if it changed. True if it did.

        A poll whose file metadata is unchanged reads nothing: with 1,000 templates, re-reading and
        hashing every file each second cost 4 % of a core and showed in the request p99. While a
        file is being written the metadata is not trusted (a paused writer changes none of it).
        """
        signature = stat_signature(self.folder)
        if signature is not None and signature == self._signature:
            self.store.mark_synced(self.source_id)
            return False
        contents = self._settled_read()
        if contents is None:
            return False
        writing = sorted(n for n, c in contents.items() if isinstance(c, Unreadable) and c.being_written)
        current = digest(contents)
        if current == self._digest:
            self._signature = None if writing else signature
            self.store.mark_synced(self.source_id)
            return False
        if self._digest is None and any(name not in self._files for name in writing):
            log.info("template folder %s: waiting for writers to close %s", self.folder, ", ".join(writing))
            return False  # the first load waits: serving without a template is worse than not ready
        self._files = parse_folder(self.folder, contents, self._version, self._files, self._security)
        self.store.replace_source(self.source_id, {k: v for r in self._files.values() for k, v in r.items()})
        self._digest = current
        self._signature = None if writing else signature
        return True

    def _settled_read(self) -> dict[str, FileContent] | None:
        contents = read_folder(self.folder)
        while True:
            if self._sleep(self._settle):
                return None
            again = read_folder(self.folder)
            if again == contents:
                return contents
            contents = again

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
