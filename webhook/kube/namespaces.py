"""Which Pod Security level each namespace enforces, mirrored from the API for the Pod Security check.

AdmissionReview requests do not carry the namespace's labels, and a GET per review would put the
API server on the request path. So one watch (label selector ``pod-security.kubernetes.io/enforce``:
only labelled namespaces travel) keeps an in-memory map; a namespace outside it enforces the cluster
default. Removing the label makes the API server send DELETED for the namespace (it left the
selector), which drops it back to the default.

Until the first list arrives nothing is known and ``level()`` answers None: the check is skipped
rather than judged against a guess. ``synced`` lets readiness wait for it where that matters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import kubernetes.client
import urllib3

from webhook.core.levels import PodSecurityLevel
from webhook.core.pod_security import ENFORCE_LABEL, enforced_level
from webhook.kube.client import build_client
from webhook.kube.reflector import Change, ItemType, JsonObject, ObjectKey
from webhook.kube.watch import CollectionWatcher, Timings
from webhook.settings import DEFAULTS

log = logging.getLogger(__name__)


class NamespaceSecurityLevels:
    """Namespace name → enforced level; ``level()`` is a dict lookup, safe from any thread."""

    def __init__(
        self,
        *,
        default_level: PodSecurityLevel = DEFAULTS.pod_security_default_level,
        api_client: kubernetes.client.ApiClient | None = None,
        configuration: kubernetes.client.Configuration | None = None,
        kubeconfig: str | None = None,
        timings: Timings | None = None,
        on_sync: Callable[[float], None] | None = None,
    ) -> None:
        self._mirror = _LevelMirror(default_level, on_sync)
        self._stopping = threading.Event()
        self._api_client, self._owns_client = build_client(api_client, configuration, kubeconfig)
        self._api = kubernetes.client.CoreV1Api(self._api_client)
        self.watcher = CollectionWatcher(
            "namespaces",
            self._request,
            self._mirror,
            self._stopping,
            timings or Timings(),
            item_type=ItemType("Namespace", "v1"),
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
        return mirror.levels.get(namespace, mirror.default)

    def wait_synced(self, timeout: float) -> bool:
        return self._mirror.first_sync.wait(timeout)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("NamespaceSecurityLevels already started")
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
        response = self._api.list_namespace(_preload_content=False, label_selector=ENFORCE_LABEL, **kwargs)
        assert isinstance(response, urllib3.BaseHTTPResponse)
        return response


class _LevelMirror:
    """The watch sink, called on the watcher's thread. Each update swaps in a new dict, so a reader on
    the event loop sees the old map or the new one, never one being changed."""

    def __init__(self, default: PodSecurityLevel, on_sync: Callable[[float], None] | None) -> None:
        self.default = default
        self.levels: dict[str, PodSecurityLevel] = {}
        self.first_sync = threading.Event()
        self._on_sync = on_sync

    def replace(self, objects: Mapping[ObjectKey, JsonObject]) -> None:
        self.levels = {name: self._level_of(obj) for (_, name), obj in objects.items()}
        log.info("namespace Pod Security levels: %d labelled namespace(s)", len(self.levels))
        self.synced()

    def changes(self, changes: tuple[Change, ...]) -> None:
        levels = dict(self.levels)
        for change in changes:
            name = change.key[1]
            if change.obj is None:
                levels.pop(name, None)
            else:
                levels[name] = self._level_of(change.obj)
            log.info("namespace %s enforces Pod Security level %s", name, levels.get(name, self.default))
        self.levels = levels

    def synced(self) -> None:
        self.first_sync.set()
        if self._on_sync is not None:
            self._on_sync(time.time())

    def _level_of(self, namespace: Mapping[str, Any]) -> PodSecurityLevel:
        labels = (namespace.get("metadata") or {}).get("labels")
        return enforced_level(labels if isinstance(labels, dict) else None, self.default)
