"""The server's Pod watch: every Pod, metadata only, projected to what the injector reads, counted
into ``sidecar_injector_pods{template,state}``.

Memory stays flat in cluster size: the watch asks for PartialObjectMetadata (never a Pod's spec or
status), lists in pages of 500, and the reflector keeps per Pod only its namespace and the
injector's own annotations as one tuple shared by every Pod that has the same ones (the replicas of
a workload), so a Pod costs its key and a two-entry dict (``lean_projection``).
The request path never waits for it: the counts are made on the exporter's thread, at most every
``interval`` seconds and only when Pods or templates changed, with identical Pods (same namespace
and annotations: the replicas of one workload) decided once.

The ``template`` label takes the names of the templates served, plus at most ``MAX_OTHER_NAMES``
other names (templates gone, recorded in Pods' status annotations, which anyone creating a Pod can
write); any further name is counted under ``(other)``, so no client can grow the series without end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping

from webhook.core.lifecycle import PodMetadata, pod_states
from webhook.core.model import InjectionPolicy, NamespaceMetadata, TemplateSet
from webhook.kube.reflector import Change, JsonObject, ObjectKey
from webhook.kube.resources import PARTIAL_OBJECT, Resources
from webhook.kube.watch import CollectionWatcher, Timings
from webhook.lifecycle.inventory import injector_pairs, injector_prefixes

log = logging.getLogger(__name__)

MAX_OTHER_NAMES = 20
OTHER = "(other)"
PAGE_SIZE = 500
SHARED_PROJECTIONS = 50_000
EXPORT_INTERVAL = 5.0
"""Seconds between two counts of the Pods, at most (only when something changed)."""
PodCounts = dict[tuple[str, str], int]
"""(template, state) → Pods."""
NamespaceLookup = Callable[[str], NamespaceMetadata | None]
"""A namespace's opt-in labels and annotations; None: unknown (no namespace opt-in counts)."""
Pairs = tuple[tuple[str, str], ...]


def no_namespaces(_namespace: str) -> NamespaceMetadata | None:
    return None


class PodWatch:
    def __init__(
        self,
        resources: Resources,
        templates: Callable[[], TemplateSet],
        policy: InjectionPolicy,
        export: Callable[[PodCounts], None],
        *,
        namespaces: NamespaceLookup = no_namespaces,
        interval: float = EXPORT_INTERVAL,
        timings: Timings | None = None,
        on_sync: Callable[[float], None] | None = None,
    ) -> None:
        self._templates, self._policy, self._export, self._interval = templates, policy, export, interval
        self._namespaces = namespaces
        self._mirror = _PodMirror(on_sync)
        self._stopping = threading.Event()
        self.watcher = CollectionWatcher(
            "pods",
            resources.collection("Pod", None, metadata_only=True),
            self._mirror,
            self._stopping,
            timings or Timings(),
            item_type=PARTIAL_OBJECT,
            transform=lean_projection(policy),
            page_size=PAGE_SIZE,
        )
        self._threads: list[threading.Thread] = []

    @property
    def synced(self) -> bool:
        return self._mirror.first_sync.is_set()

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self.watcher.run, name="watch-pods", daemon=True),
            threading.Thread(target=self._run_exporter, name="pod-metrics", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.watcher.interrupt()
        for thread in self._threads:
            thread.join(timeout)

    def counts(self) -> PodCounts:
        """The Pods per (template, state) now."""
        return count_pods(self._mirror.snapshot(), self._templates(), self._policy, self._namespaces)

    def _run_exporter(self) -> None:
        counted: TemplateSet | None = None
        seen: dict[str, NamespaceMetadata | None] = {}
        while not self._stopping.wait(self._interval):
            templates = self._templates()
            if not self._mirror.first_sync.is_set():
                continue
            # The store swaps in a new snapshot on every change, so identity says "changed"; a
            # namespace labelled or unlabelled changes what its Pods opted in to.
            relabelled = any(self._namespaces(name) != known for name, known in seen.items())
            if self._mirror.take_dirty() or templates is not counted or relabelled:
                counted = templates
                started = time.monotonic()
                pods = self._mirror.snapshot()
                seen = {name: self._namespaces(name) for name in {pod["namespace"] for pod in pods}}
                self._export(count_pods(pods, templates, self._policy, seen.get))
                log.debug("pod metrics: %d Pods counted in %.3f s", len(pods), time.monotonic() - started)


def lean_projection(policy: InjectionPolicy) -> Callable[[JsonObject], JsonObject]:
    """A Pod as ``{"namespace", "annotations", "labels"}``, the annotations and labels the injector
    reads as sorted tuples of pairs, one shared object per distinct value (bounded by the Pods
    there are)."""
    prefixes = injector_prefixes(policy)
    shared: dict[tuple[str, Pairs, Pairs], JsonObject] = {}

    def project(obj: JsonObject) -> JsonObject:
        meta = obj.get("metadata") or {}
        annotations = injector_pairs(meta.get("annotations"), prefixes)
        labels = injector_pairs(meta.get("labels"), prefixes)
        key = (str(meta.get("namespace") or ""), annotations, labels)
        if key not in shared:
            if len(shared) > SHARED_PROJECTIONS:
                shared.clear()  # bounded: an unusual cluster of all-different Pods only loses the sharing
            shared[key] = {"namespace": key[0], "annotations": annotations, "labels": labels}
        return shared[key]

    return project


def count_pods(
    pods: list[JsonObject],
    templates: TemplateSet,
    policy: InjectionPolicy,
    namespaces: NamespaceLookup = no_namespaces,
) -> PodCounts:
    """Pods per (template, state); Pods of one namespace with the same annotations and labels are
    decided once."""
    groups: Counter[tuple[str, Pairs, Pairs]] = Counter()
    for pod in pods:
        groups[(pod["namespace"], pod["annotations"], pod.get("labels", ()))] += 1
    served = {t.name for t in templates.templates.values()}
    others: set[str] = set()
    counts: PodCounts = Counter()
    for (namespace, notes, labels), number in groups.items():
        unit = PodMetadata(dict(notes), dict(labels))
        for state in pod_states(unit, namespace, namespaces(namespace), templates, policy):
            name = state.template
            if name not in served and name not in others:
                if len(others) >= MAX_OTHER_NAMES:
                    name = OTHER
                else:
                    others.add(name)
            counts[(name, state.state)] += number
    return dict(counts)


class _PodMirror:
    """The watch sink: the projections by key, replaced whole on each list; ``dirty`` since the last
    count. Written on the watch thread, read on the exporter's, under one lock."""

    def __init__(self, on_sync: Callable[[float], None] | None) -> None:
        self.pods: dict[ObjectKey, JsonObject] = {}
        self._lock = threading.Lock()
        self.first_sync = threading.Event()
        self._dirty = threading.Event()
        self._on_sync = on_sync

    def snapshot(self) -> list[JsonObject]:
        with self._lock:
            return list(self.pods.values())

    def replace(self, objects: Mapping[ObjectKey, JsonObject]) -> None:
        with self._lock:
            self.pods = dict(objects)
        log.info("pod watch: %d Pods listed", len(self.pods))
        self._dirty.set()
        self.synced()

    def changes(self, changes: tuple[Change, ...]) -> None:
        with self._lock:
            for change in changes:
                if change.obj is None:
                    self.pods.pop(change.key, None)
                else:
                    self.pods[change.key] = change.obj
        self._dirty.set()

    def synced(self) -> None:
        self.first_sync.set()
        if self._on_sync is not None:
            self._on_sync(time.time())

    def take_dirty(self) -> bool:
        dirty = self._dirty.is_set()
        self._dirty.clear()
        return dirty
