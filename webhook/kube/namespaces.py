"""What the engine needs to know of each namespace, mirrored from the API: the Pod Security level it
enforces and its opt-in labels and annotations.

AdmissionReview requests do not carry the namespace's labels or annotations, and a GET per review
would put the API server on the request path. So one watch keeps an in-memory map. With namespace
opt-in on it watches every namespace (annotations cannot be selected on) and keeps, per namespace
that carries one, only the three keys the engine reads (the Pod Security enforce label, the inject
label, the inject annotation): a reflector transform drops the rest of each object before it is
stored, and namespaces without any of them are not stored at all. With only the Pod Security check
on, the label selector ``pod-security.kubernetes.io/enforce`` keeps the others from travelling. A
namespace outside the map enforces the cluster default and has no opt-in; leaving the selector (or
losing its last key) reports it as gone, which drops it back to that.

Until the first list arrives nothing is known: ``level()`` and ``metadata()`` answer None, so the
check is skipped and no namespace opt-in applies, rather than judging against a guess. ``synced``
lets readiness wait for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes.client
import urllib3

from webhook.core.levels import PodSecurityLevel
from webhook.core.model import NamespaceMetadata
from webhook.core.pod_security import ENFORCE_LABEL, enforced_level
from webhook.kube.client import build_client
from webhook.kube.reflector import Change, ItemType, JsonObject, ObjectKey
from webhook.kube.watch import CollectionWatcher, Timings
from webhook.settings import DEFAULTS

log = logging.getLogger(__name__)
NO_METADATA = NamespaceMetadata()


class NamespaceMirror:
    """Namespace name → enforced level and opt-in metadata; lookups are dict reads, safe from any
    thread."""

    def __init__(
        self,
        *,
        default_level: PodSecurityLevel = DEFAULTS.pod_security_default_level,
        opt_in: bool = DEFAULTS.policy.namespace_opt_in,
        inject_key: str = DEFAULTS.policy.inject_annotation,
        api_client: kubernetes.client.ApiClient | None = None,
        configuration: kubernetes.client.Configuration | None = None,
        kubeconfig: str | None = None,
        timings: Timings | None = None,
        on_sync: Callable[[float], None] | None = None,
    ) -> None:
        self._keys = _Keys(
            frozenset({ENFORCE_LABEL, inject_key}), frozenset({inject_key}) if opt_in else frozenset()
        )
        self._opt_in = opt_in
        self._mirror = _Mirror(default_level, on_sync)
        self._stopping = threading.Event()
        self._api_client, self._owns_client = build_client(api_client, configuration, kubeconfig)
        self._api = kubernetes.client.CoreV1Api(self._api_client)
        self.watcher = CollectionWatcher(
            "namespaces",
            self._request,
            self._mirror,
            self._stopping,
            timings or Timings(),
            self._keys.relevant if opt_in else None,
            item_type=ItemType("Namespace", "v1"),
            transform=self._keys.project,
        )
        self._thread: threading.Thread | None = None

    @property
    def synced(self) -> bool:
        return self._mirror.first_sync.is_set()

    def level(self, namespace: str) -> PodSecurityLevel | None:
        """The level ``namespace`` enforces; None until the first list has arrived."""
        mirror = self._mirror
        if not mirror.first_sync.is_set():
            return None
        known = mirror.namespaces.get(namespace)
        return known.level if known is not None else mirror.default

    def metadata(self, namespace: str) -> NamespaceMetadata | None:
        """The namespace's opt-in labels and annotations; None until the first list has arrived."""
        mirror = self._mirror
        if not mirror.first_sync.is_set():
            return None
        known = mirror.namespaces.get(namespace)
        return known.metadata if known is not None else NO_METADATA

    def wait_synced(self, timeout: float) -> bool:
        return self._mirror.first_sync.wait(timeout)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("NamespaceMirror already started")
        self._thread = threading.Thread(target=self.watcher.run, name="watch-namespaces", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.watcher.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._owns_client:
            self._api_client.close()  # type: ignore[no-untyped-call]  # the client leaves it unannotated

    def _request(self, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        if not self._opt_in:
            kwargs["label_selector"] = ENFORCE_LABEL
        response = self._api.list_namespace(_preload_content=False, **kwargs)
        assert isinstance(response, urllib3.BaseHTTPResponse)
        return response


@dataclass(frozen=True, slots=True)
class _Keys:
    """The label and annotation keys worth keeping of a namespace."""

    labels: frozenset[str]
    annotations: frozenset[str]

    def relevant(self, namespace: Mapping[str, Any]) -> bool:
        labels, annotations = _strings(namespace, "labels"), _strings(namespace, "annotations")
        return not self.labels.isdisjoint(labels) or not self.annotations.isdisjoint(annotations)

    def project(self, namespace: JsonObject) -> JsonObject:
        metadata = namespace.get("metadata") or {}
        labels = {k: v for k, v in _strings(namespace, "labels").items() if k in self.labels}
        annotations = {k: v for k, v in _strings(namespace, "annotations").items() if k in self.annotations}
        return {"metadata": {"name": metadata.get("name"), "labels": labels, "annotations": annotations}}


@dataclass(frozen=True, slots=True)
class _Namespace:
    level: PodSecurityLevel
    metadata: NamespaceMetadata


class _Mirror:
    """The watch sink, called on the watcher's thread. Each update swaps in a new dict, so a reader on
    the event loop sees the old map or the new one, never one being changed."""

    def __init__(self, default: PodSecurityLevel, on_sync: Callable[[float], None] | None) -> None:
        self.default = default
        self.namespaces: dict[str, _Namespace] = {}
        self.first_sync = threading.Event()
        self._on_sync = on_sync

    def replace(self, objects: Mapping[ObjectKey, JsonObject]) -> None:
        self.namespaces = {name: self._known(obj) for (_, name), obj in objects.items()}
        log.info("namespaces: %d with a Pod Security level or an opt-in", len(self.namespaces))
        self.synced()

    def changes(self, changes: tuple[Change, ...]) -> None:
        namespaces = dict(self.namespaces)
        for change in changes:
            name = change.key[1]
            if change.obj is None:
                namespaces.pop(name, None)
            else:
                namespaces[name] = self._known(change.obj)
            known = namespaces.get(name)
            log.info(
                "namespace %s enforces Pod Security level %s; opt-in %s",
                name,
                known.level if known else self.default,
                dict(known.metadata.labels) | dict(known.metadata.annotations) if known else "none",
            )
        self.namespaces = namespaces

    def synced(self) -> None:
        self.first_sync.set()
        if self._on_sync is not None:
            self._on_sync(time.time())

    def _known(self, namespace: JsonObject) -> _Namespace:
        labels, annotations = _strings(namespace, "labels"), _strings(namespace, "annotations")
        opt_in = {k: v for k, v in labels.items() if k != ENFORCE_LABEL}
        return _Namespace(enforced_level(labels, self.default), NamespaceMetadata(opt_in, annotations))


def _strings(obj: Mapping[str, Any], field: str) -> dict[str, str]:
    metadata = obj.get("metadata")
    entries = metadata.get(field) if isinstance(metadata, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, str)}
