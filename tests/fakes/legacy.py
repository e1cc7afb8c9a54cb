"""The controls of the original ConfigMap/Namespace fake, kept exactly as its users call them.

They write to the store directly, as an out-of-band client would, with the original semantics: a
ConfigMap needs no Namespace, a duplicate or a missing object is a ``KeyError``, ``update`` replaces
data and/or labels, ``delete_namespace`` removes the Namespace at once (as when the namespace
controller has finished) and leaves its content.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from tests.fakes import resources as r
from tests.fakes import strategies
from tests.fakes.rest import Rest
from tests.fakes.storage import ADDED, DELETED, MODIFIED, Store

JsonObject = dict[str, Any]
CONFIGMAPS, NAMESPACES = "configmaps", "namespaces"


class OriginalControls:
    store: Store
    rest: Rest

    def create(
        self, namespace: str, name: str, data: Mapping[str, str], labels: Mapping[str, str] | None = None
    ) -> JsonObject:
        with self.store.lock:
            if self.store.get(CONFIGMAPS, namespace, name) is not None:
                raise KeyError(f"configmaps {namespace}/{name} already exists")
            metadata: JsonObject = {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": strategies.now(),
            }
            if labels:
                metadata["labels"] = dict(labels)
            obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": metadata, "data": dict(data)}
            return self.store.write(CONFIGMAPS, ADDED, obj, None)

    def update(
        self,
        namespace: str,
        name: str,
        *,
        data: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> JsonObject:
        """Replace data and/or labels (None keeps the current value; {} removes every label)."""
        with self.store.lock:
            previous = self._existing(CONFIGMAPS, namespace, name)
            obj = copy.deepcopy(previous)
            if data is not None:
                obj["data"] = dict(data)
            if labels is not None:
                _set_labels(obj, labels)
            return self.store.write(CONFIGMAPS, MODIFIED, obj, previous)

    def delete(self, namespace: str, name: str) -> JsonObject:
        with self.store.lock:
            previous = self._existing(CONFIGMAPS, namespace, name)
            return self.store.write(CONFIGMAPS, DELETED, copy.deepcopy(previous), previous)

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> JsonObject:
        with self.store.lock:
            if self.store.get(NAMESPACES, "", name) is not None:
                raise KeyError(f"namespaces {name} already exists")
            obj = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(labels or {})},
            }
            return self.rest.create(r.NAMESPACES, None, obj)

    def label_namespace(self, name: str, labels: Mapping[str, str]) -> JsonObject:
        """Replace the namespace's labels (the API server keeps kubernetes.io/metadata.name)."""
        with self.store.lock:
            previous = self._existing(NAMESPACES, "", name)
            obj = copy.deepcopy(previous)
            _set_labels(obj, {"kubernetes.io/metadata.name": name, **labels})
            return self.store.write(NAMESPACES, MODIFIED, obj, previous)

    def delete_namespace(self, name: str) -> JsonObject:
        """Remove the namespace at once, as when the namespace controller has finished (its content stays)."""
        with self.store.lock:
            previous = self._existing(NAMESPACES, "", name)
            return self.store.write(NAMESPACES, DELETED, copy.deepcopy(previous), previous)

    def _existing(self, storage: str, namespace: str, name: str) -> JsonObject:
        obj = self.store.get(storage, namespace, name)
        if obj is None:
            raise KeyError(f"{storage} {namespace}/{name} does not exist")
        return obj


def _set_labels(obj: JsonObject, labels: Mapping[str, str]) -> None:
    """Replace every label; {} removes the field, as a JSON merge patch of ``labels: null`` does."""
    if labels:
        obj["metadata"]["labels"] = dict(labels)
    else:
        obj["metadata"].pop("labels", None)
