"""Template ConfigMaps from the Kubernetes API: list, then watch, fed into the TemplateStore.

The only module of the webhook that imports ``kubernetes``. It uses the client's low-level calls with
``_preload_content=False`` and reads the chunked watch stream itself, so the sans-IO reflector parses
raw JSON events (no model deserialization that would drop unknown fields).

Watch contract followed (https://kubernetes.io/docs/reference/using-api/api-concepts/):

1. List (no resourceVersion: a consistent read), replace the source's templates wholesale, mark the
   source synced; the list's ``metadata.resourceVersion`` is where the watch starts.
2. Watch with ``allowWatchBookmarks=true`` and ``timeoutSeconds``; every event and BOOKMARK moves the
   last seen resourceVersion.
3. A server-side timeout (clean end of stream) or a broken connection resumes the watch from the last
   seen resourceVersion — no re-list, because the server still holds the history.
4. 410 Gone (HTTP 410 on the watch request, or an ERROR event whose Status has code 410) means the
   history is gone: re-list once, then watch from the new list's resourceVersion.
5. Any request that does not lead to a healthy watch (refused, failed, an ERROR event, a stream that
   ended at once with no event) is followed by an exponential backoff with jitter (0.2 s doubling to a
   10 s cap by default), so an unreachable API is never hammered. A healthy watch resets it.
6. Events are coalesced: changes are collected until ``coalesce_quiet`` passes without a new one (at
   most ``coalesce_max`` after the first), then applied to the store as one batch, i.e. one swap.

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

import contextlib
import copy
import functools
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client.exceptions import ApiException

from webhook.core.security import TemplateSecurityPolicy
from webhook.templates.errors import TemplateError
from webhook.templates.parsing import (
    LEGACY_SUFFIX,
    NATIVE_KEY,
    TEMPLATE_LABEL,
    parse_template,
    template_documents,
)
from webhook.templates.reflector import (
    Backoff,
    Change,
    JsonObject,
    LineBuffer,
    NextAction,
    ObjectKey,
    ProtocolViolation,
    Reflector,
    Step,
)
from webhook.templates.schema import DEFAULT_KUBERNETES_VERSION
from webhook.templates.store import DocumentResult, TemplateStore

log = logging.getLogger(__name__)

ALL_NAMESPACES = "*"


@dataclass(frozen=True, slots=True)
class Timings:
    """Every delay the source uses; tests shrink them, production keeps the defaults."""

    backoff_initial: float = 0.2
    backoff_cap: float = 10.0
    coalesce_quiet: float = 0.1
    coalesce_max: float = 1.0
    watch_timeout: int = 300
    """Server-side ``timeoutSeconds`` of each watch; the stream then ends cleanly and is resumed."""
    connect_timeout: float = 5.0
    read_slack: float = 30.0
    """Read timeout beyond ``watch_timeout``: a silently dead connection is noticed after this."""
    list_timeout: float = 60.0
    healthy_watch: float = 1.0
    """A watch that lasted this long (or delivered an event) counts as healthy and resets the backoff."""
    sync_interval: float = 5.0
    """How often watch activity re-marks the source synced (keeps the staleness metric meaningful)."""


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
        kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
        security: TemplateSecurityPolicy | None = None,
        timings: Timings = Timings(),
    ) -> None:
        self._store = store
        self._cluster_wide = frozenset({own_namespace, *shared_namespaces})
        self._legacy = legacy
        self._kubernetes_version = kubernetes_version
        self._security = security
        self._timings = timings
        self._api_client, self._owns_client = _build_client(api_client, configuration, kubeconfig)
        self._api = kubernetes.client.CoreV1Api(self._api_client)
        scopes = (
            [ALL_NAMESPACES] if namespaces is None else list(dict.fromkeys(namespaces or [own_namespace]))
        )
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopping = threading.Event()
        self._readers = [_Reader(self, scope) for scope in scopes]
        self._applier = _Applier(self)
        self._threads: list[threading.Thread] = []
        self.source_ids = tuple(reader.source for reader in self._readers)
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
            threading.Thread(target=r.run, name=f"kube-source-{r.scope}", daemon=True) for r in self._readers
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


class _Reader:
    """One scope's list/watch loop, driving its reflector; runs on its own thread."""

    def __init__(self, owner: KubeTemplateSource, scope: str) -> None:
        self.owner = owner
        self.scope = scope
        self.source = f"kube:{scope}"
        self.reflector = Reflector(owner._accepts)
        self.backoff = Backoff(owner._timings.backoff_initial, owner._timings.backoff_cap)
        self.lists = 0
        self.watches = 0
        self.failures = 0
        self._response: urllib3.BaseHTTPResponse | None = None
        self._last_synced = 0.0

    def run(self) -> None:
        stopping = self.owner._stopping
        while not stopping.is_set():
            try:
                healthy = self._cycle()
            except Exception:  # a bug must not end the source silently: log it, back off, go on
                log.exception("kube template source %s: unexpected error", self.source)
                healthy = False
            if not healthy and not stopping.is_set():
                delay = self.backoff.next_delay()
                log.debug("kube template source %s: retrying in %.2f s", self.source, delay)
                stopping.wait(delay)

    def interrupt(self) -> None:
        """Wake a read blocked on the socket: shutdown() ends a blocked recv, close() alone does not."""
        response = self._response
        sock = getattr(getattr(response, "connection", None), "sock", None)
        if sock is None:
            # With "Connection: close" http.client detaches the socket from the connection at once;
            # only the response's file object (BufferedReader → SocketIO) still holds it.
            raw = getattr(getattr(getattr(response, "_fp", None), "fp", None), "raw", None)
            sock = getattr(raw, "_sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _cycle(self) -> bool:
        """One list (when needed) and one watch; True when the watch was healthy."""
        if self.reflector.resource_version is None and not self._list():
            return False
        return self.owner._stopping.is_set() or self._watch()

    def _list(self) -> bool:
        timings = self.owner._timings
        try:
            response = self.owner._request(
                self.scope, _request_timeout=(timings.connect_timeout, timings.list_timeout)
            )
            try:
                body = json.loads(response.data)
            finally:
                response.release_conn()
            objects = self.reflector.on_list(body)
        except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            self.failures += 1
            log.warning("kube template source %s: list failed: %s", self.source, _describe(exc))
            return False
        self.lists += 1
        self._last_synced = time.monotonic()
        log.info(
            "kube template source %s: listed %d ConfigMap(s) at resourceVersion %s",
            self.source,
            len(objects),
            self.reflector.resource_version,
        )
        self.owner._queue.put(_Replace(self.source, dict(objects)))
        return True

    def _watch(self) -> bool:
        timings = self.owner._timings
        version = self.reflector.resource_version
        started = time.monotonic()
        try:
            response = self.owner._request(
                self.scope,
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=version,
                timeout_seconds=timings.watch_timeout,
                _request_timeout=(timings.connect_timeout, timings.watch_timeout + timings.read_slack),
            )
        except ApiException as exc:
            self.failures += 1
            step = self.reflector.on_watch_rejected(exc.status or 0)
            log.warning("kube template source %s: %s", self.source, step.reason)
            return False
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self.failures += 1
            log.warning("kube template source %s: watch failed: %s", self.source, _describe(exc))
            return False
        self.watches += 1
        self._response = response
        if self.owner._stopping.is_set():  # stop() may have looked for a response just before this one
            self._response = None
            response.close()
            return True
        self._mark_synced()
        log.debug("kube template source %s: watching from resourceVersion %s", self.source, version)
        try:
            events, step = self._read(response)
        finally:
            self._response = None
            with contextlib.suppress(Exception):
                response.close()
            response.release_conn()
        healthy = events > 0 or time.monotonic() - started >= timings.healthy_watch
        if step.action is NextAction.RELIST:
            log.info("kube template source %s: re-listing: %s", self.source, step.reason)
        elif step.backoff:
            log.warning("kube template source %s: %s", self.source, step.reason)
        if healthy and not step.backoff:
            self.backoff.reset()
        return healthy and not step.backoff

    def _read(self, response: urllib3.BaseHTTPResponse) -> tuple[int, Step]:
        """Feed the stream to the reflector until it ends or asks for another action."""
        lines = LineBuffer()
        events = 0
        try:
            for chunk in response.stream(amt=None, decode_content=False):
                for line in lines.feed(chunk):
                    step = self.reflector.on_line(line)
                    if step.action is not NextAction.NONE:
                        return events, step
                    events += 1
                    if step.changes:
                        self.owner._queue.put(_Changes(self.source, step.changes))
                    self._mark_synced()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if not self.owner._stopping.is_set():
                log.info("kube template source %s: watch stream broken: %s", self.source, _describe(exc))
        return events, self.reflector.on_stream_end()

    def _mark_synced(self) -> None:
        now = time.monotonic()
        if now - self._last_synced >= self.owner._timings.sync_interval:
            self._last_synced = now
            self.owner._queue.put(_Synced(self.source))


class _Applier:
    """The single writer: parses ConfigMaps into template documents and applies batches to the store."""

    def __init__(self, owner: KubeTemplateSource) -> None:
        self.owner = owner
        self.documents: dict[str, dict[ObjectKey, set[str]]] = {}
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
                results.update(dict.fromkeys(index.pop(key, set()) - documents.keys()))
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
        if not results and TEMPLATE_LABEL in (metadata.get("labels") or {}):
            # Labelled as ours but unusable: say so instead of ignoring it silently.
            message = f"labelled {TEMPLATE_LABEL} but has no string key {NATIVE_KEY!r}"
            results[f"{label} key {NATIVE_KEY}"] = TemplateError(label, NATIVE_KEY, "", message)
        return results


def _build_client(
    api_client: kubernetes.client.ApiClient | None,
    configuration: kubernetes.client.Configuration | None,
    kubeconfig: str | None,
) -> tuple[kubernetes.client.ApiClient, bool]:
    """The client to use and whether we own (and so close) it."""
    if api_client is not None:
        return api_client, False
    if configuration is not None:
        config = copy.deepcopy(configuration)  # never alter the caller's object
    else:
        config = kubernetes.client.Configuration()
        if kubeconfig is not None:
            # Same as new_client_from_config, but we set retries before the client builds its pool.
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=config
            )
        else:
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
    # Our loop is the one retry policy (with backoff); urllib3's immediate retries would multiply it.
    config.retries = 0
    return kubernetes.client.ApiClient(config), True


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    if isinstance(exc, ProtocolViolation):
        return f"unexpected response: {exc}"
    return f"{type(exc).__name__}: {exc}"
