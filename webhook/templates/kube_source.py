"""Template ConfigMaps from the Kubernetes API: list, then watch, fed into the TemplateStore.

The ConfigMap requests are built here with the client's low-level calls; webhook.kube reads them.

List and watch follow the contract stated in ``webhook.kube.reflector`` (resume from the last
resourceVersion, re-list once on 410 Gone, back off with jitter), driven by ``webhook.kube.watch``.
On top of that, events are coalesced:
changes are collected until ``coalesce_quiet`` passes without a new one (at most ``coalesce_max``
after the first), then applied to the store as one batch, i.e. one swap.

Threads: one reader per watched scope (a namespace, or all namespaces) does blocking I/O; one applier
owns everything store-facing (parsing, the ConfigMap → document map, batching) and is fed through a
queue, which keeps relists and watch batches in order. ``start()`` returns at once; the asyncio loop
never waits on the API. ``stop()`` joins the threads: call it from a worker thread in async code.

Selection: with legacy support (the default) each scope runs ONE watch without a label selector and
filters client-side for the template label or a ``<name>-initializer`` name. A label selector cannot
find legacy ConfigMaps (they carry no label), so an unlabelled watch must stream every ConfigMap of
the scope anyway; a second, labelled watch would only duplicate the labelled ones on the wire. With
``legacy=False`` the watch uses the label selector and the server does the filtering.

Scoping: ConfigMaps in ``own_namespace`` and ``shared_namespaces`` serve cluster-wide templates;
those from any other namespace serve templates confined to that namespace (and parsing holds those
to the restricted security level, whatever ``security`` allows cluster-wide templates).
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kubernetes.client
import urllib3

from webhook.core.security import TemplateSecurityPolicy
from webhook.kube.client import build_client
from webhook.kube.reflector import Change, ItemType, JsonObject, ObjectKey
from webhook.kube.watch import CollectionWatcher, Timings
from webhook.settings import DEFAULTS
from webhook.templates.errors import TemplateError
from webhook.templates.parsing import (
    LEGACY_SUFFIX,
    TEMPLATE_LABEL,
    parse_template,
    template_documents,
    unusable_template,
)
from webhook.templates.store import DocumentResult, TemplateStore

__all__ = ["ALL_NAMESPACES", "KubeTemplateSource", "Timings"]

log = logging.getLogger(__name__)

ALL_NAMESPACES = "*"
CONFIGMAP = ItemType("ConfigMap", "v1")


# Messages from the readers to the applier ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Replace:
    source: str
    objects: Mapping[ObjectKey, JsonObject]


@dataclass(frozen=True, slots=True)
class _Changes:
    source: str
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class _Synced:
    source: str


_STOP = object()


class KubeTemplateSource:
    """Keeps the store in step with template ConfigMaps; see the module docstring for the contract.

    ``namespaces``: ``()`` (default) watches ``own_namespace`` only, ``None`` watches all namespaces.
    Client: ``api_client`` as given (not closed by ``stop``), else ``configuration`` (e.g. a test's
    ``Configuration(host=...)``), else ``kubeconfig`` (a file path), else in-cluster credentials.
    """

    def __init__(
        self,
        store: TemplateStore,
        *,
        own_namespace: str,
        namespaces: Sequence[str] | None = (),
        shared_namespaces: frozenset[str] = frozenset(),
        legacy: bool = True,
        api_client: kubernetes.client.ApiClient | None = None,
        configuration: kubernetes.client.Configuration | None = None,
        kubeconfig: str | None = None,
        kubernetes_version: str = DEFAULTS.kubernetes_version,
        security: TemplateSecurityPolicy | None = None,
        timings: Timings | None = None,
    ) -> None:
        self._store = store
        self._cluster_wide = frozenset({own_namespace, *shared_namespaces})
        self._legacy = legacy
        self._kubernetes_version = kubernetes_version
        self._security = security
        self._timings = timings = timings or Timings()
        self._api_client, self._owns_client = build_client(api_client, configuration, kubeconfig)
        self._api = kubernetes.client.CoreV1Api(self._api_client)
        scopes = (
            [ALL_NAMESPACES] if namespaces is None else list(dict.fromkeys(namespaces or [own_namespace]))
        )
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopping = threading.Event()
        self._readers = [
            CollectionWatcher(
                f"kube:{scope}",
                functools.partial(self._request, scope),
                _QueueSink(self._queue, f"kube:{scope}"),
                self._stopping,
                timings,
                self._accepts,
                item_type=CONFIGMAP,
            )
            for scope in scopes
        ]
        self._applier = _Applier(self)
        self._threads: list[threading.Thread] = []
        self.source_ids = tuple(reader.name for reader in self._readers)
        for source in self.source_ids:
            store.expect_source(source)

    # Counters for tests and logs: summed over every scope.
    @property
    def lists(self) -> int:
        return sum(r.lists for r in self._readers)

    @property
    def watches(self) -> int:
        return sum(r.watches for r in self._readers)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self._readers)

    def start(self) -> None:
        """Start the reader and applier threads (daemon threads); returns at once."""
        if self._threads:
            raise RuntimeError("KubeTemplateSource already started")
        self._threads = [threading.Thread(target=self._applier.run, name="kube-source-apply", daemon=True)]
        self._threads += [
            threading.Thread(target=r.run, name=f"watch-{r.name}", daemon=True) for r in self._readers
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads (open streams are cut, pending batches applied) and close an owned client."""
        self._stopping.set()
        for reader in self._readers:
            reader.interrupt()
        deadline = time.monotonic() + timeout
        for thread in self._threads[1:]:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._queue.put(_STOP)
        if self._threads:
            self._threads[0].join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            log.warning("kube template source: threads still running after %.1f s", timeout)
        if self._owns_client:
            self._api_client.close()  # type: ignore[no-untyped-call]  # the client leaves it unannotated

    def configmap_of(self, document: str) -> tuple[str, str, str] | None:
        """(namespace, name, uid) of the ConfigMap a document comes from; None when it is not one of
        ours. For the store's transition callback, which runs on the applier's thread as this does."""
        return self._applier.origins.get(document)

    # Shared helpers ------------------------------------------------------------------------------------

    def _accepts(self, obj: Mapping[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        labels = metadata.get("labels") or {}
        if TEMPLATE_LABEL in labels:
            return True
        name = metadata.get("name")
        return self._legacy and isinstance(name, str) and name.endswith(LEGACY_SUFFIX)

    def _request(self, scope: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        if not self._legacy:
            kwargs["label_selector"] = TEMPLATE_LABEL
        if scope == ALL_NAMESPACES:
            response = self._api.list_config_map_for_all_namespaces(_preload_content=False, **kwargs)
        else:
            response = self._api.list_namespaced_config_map(scope, _preload_content=False, **kwargs)
        assert isinstance(response, urllib3.BaseHTTPResponse)
        return response


class _QueueSink:
    """A scope's watcher reports into the applier's queue, tagged with the scope's source id."""

    def __init__(self, target: queue.Queue[object], source: str) -> None:
        self._queue = target
        self._source = source

    def replace(self, objects: Mapping[ObjectKey, JsonObject]) -> None:
        self._queue.put(_Replace(self._source, objects))

    def changes(self, changes: tuple[Change, ...]) -> None:
        self._queue.put(_Changes(self._source, changes))

    def synced(self) -> None:
        self._queue.put(_Synced(self._source))


class _Applier:
    """The single writer: parses ConfigMaps into template documents and applies batches to the store."""

    def __init__(self, owner: KubeTemplateSource) -> None:
        self.owner = owner
        self.documents: dict[str, dict[ObjectKey, set[str]]] = {}
        self.origins: dict[str, tuple[str, str, str]] = {}
        """Document → (namespace, name, uid) of its ConfigMap, for Events about it."""
        self.pending: dict[str, dict[ObjectKey, Change]] = {}
        self.first = self.last = 0.0  # when the pending burst began and when it last grew

    def run(self) -> None:
        timings = self.owner._timings
        source_queue = self.owner._queue
        while True:
            timeout = None
            if self.pending:
                due = min(self.last + timings.coalesce_quiet, self.first + timings.coalesce_max)
                timeout = max(0.0, due - time.monotonic())
            try:
                message = source_queue.get(timeout=timeout)
            except queue.Empty:
                self._guarded(self._flush)  # the burst is over (or has lasted coalesce_max)
                continue
            if message is _STOP:
                self._guarded(self._flush)
                return
            self._guarded(functools.partial(self._handle, message))

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:  # a bug must not stop template updates for good: log it and carry on
            log.exception("kube template source: failed to apply changes")

    def _handle(self, message: object) -> None:
        if isinstance(message, _Changes):
            self.last = time.monotonic()
            if not self.pending:
                self.first = self.last
            batch = self.pending.setdefault(message.source, {})
            batch.update((change.key, change) for change in message.changes)
        elif isinstance(message, _Replace):
            self.pending.pop(message.source, None)  # older than the list that supersedes them
            self._replace(message.source, message.objects)
        elif isinstance(message, _Synced):
            self.owner._store.mark_synced(message.source)

    def _replace(self, source: str, objects: Mapping[ObjectKey, JsonObject]) -> None:
        results: dict[str, DocumentResult] = {}
        index: dict[ObjectKey, set[str]] = {}
        for previous in self.documents.get(source, {}).values():
            self._forget(previous)
        for key, obj in objects.items():
            documents = self._parse(obj)
            results.update(documents)
            index[key] = set(documents)
        self.documents[source] = index
        self.owner._store.replace_source(source, results)

    def _flush(self) -> None:
        pending, self.pending = self.pending, {}
        for source, changes in pending.items():
            index = self.documents.setdefault(source, {})
            results: dict[str, DocumentResult | None] = {}
            for key, change in changes.items():
                documents = self._parse(change.obj) if change.obj is not None else {}
                gone = index.pop(key, set()) - documents.keys()
                self._forget(gone)
                results.update(dict.fromkeys(gone))
                results.update(documents)
                if documents:
                    index[key] = set(documents)
                log.info(
                    "ConfigMap %s/%s %s (%s): %d template document(s)",
                    *key,
                    "removed" if change.obj is None else "changed",
                    change.event,
                    len(documents),
                )
            self.owner._store.update_documents(source, results)

    def _parse(self, obj: JsonObject) -> dict[str, DocumentResult]:
        metadata = obj.get("metadata") or {}
        namespace, name = metadata.get("namespace") or "", metadata.get("name") or ""
        label = f"ConfigMap {namespace}/{name}"
        scope = None if namespace in self.owner._cluster_wide else namespace
        results: dict[str, DocumentResult] = {}
        for document in template_documents(obj, label, scope):
            try:
                results[f"{label} key {document.key}"] = parse_template(
                    document, self.owner._kubernetes_version, self.owner._security
                )
            except TemplateError as exc:
                results[f"{label} key {document.key}"] = exc
        if not results and (problem := unusable_template(obj, label)) is not None:
            results[f"{label} key {problem.key}"] = problem
        uid = metadata.get("uid") if isinstance(metadata.get("uid"), str) else ""
        self.origins.update(dict.fromkeys(results, (str(namespace), str(name), str(uid))))
        return results

    def _forget(self, documents: set[str]) -> None:
        for document in documents:
            self.origins.pop(document, None)
