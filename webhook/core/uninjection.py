"""Removing what the injector added, as the status annotation records it (see core/status.py).

Everything works on one pod template (a Pod's root, a workload's ``spec.template``) of a copy of the
object: the recorded names are removed from their lists and maps, the annotations pod injection
copied get their earlier values back, and the maps and lists an injection created go again once
they are empty (``null`` where they were ``null``), so that uninjecting an injected object gives the
original back, key order included. The workload's own items are never touched: an item it already
had was skipped at injection and is not recorded.

A version 1 entry (name and revision only) does not say what it added. When the current template
has the same revision, what it added is inferred: the template's items found in the object with the
same content (an identical item the workload wrote itself cannot be told apart; the caller says so).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webhook.core.jsontypes import JsonObject
from webhook.core.merging import NATIVE_SIDECAR_RESTART_POLICY
from webhook.core.model import Template
from webhook.core.recording import path_tokens
from webhook.core.status import Added, InjectionStatus

_SPEC_LISTS = {"containers": "name", "initContainers": "name", "volumes": "name", "imagePullSecrets": "name"}
_CONTAINER_LISTS = {"env": "name", "volumeMounts": "mountPath"}


def remove_added(pod_template: JsonObject, added: Added) -> None:
    """Remove one template's recorded items from ``pod_template`` (changed in place)."""
    spec = pod_template.get("spec")
    if isinstance(spec, dict):
        for field, key in _SPEC_LISTS.items():
            _remove_items(spec.get(field), key, added.names(field))
        containers = {c.get("name"): c for c in spec.get("containers") or [] if isinstance(c, dict)}
        for field, key in _CONTAINER_LISTS.items():
            for container, names in added.per_container(field):
                target = containers.get(container)
                if target is not None:
                    _remove_items(target.get(field), key, names)
    metadata = pod_template.get("metadata")
    if isinstance(metadata, dict):
        for field in ("annotations", "labels"):
            entries = metadata.get(field)
            if isinstance(entries, dict):
                for name in added.names(field):
                    entries.pop(name, None)


def restore_copied(pod_template: JsonObject, copied: Iterable[tuple[str, str | None]]) -> None:
    """Give the annotations pod injection wrote the values they had before."""
    annotations = (pod_template.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict):
        return
    for key, before in reversed(list(copied)):
        if before is None:
            annotations.pop(key, None)
        else:
            annotations[key] = before


def drop_created(pod_template: JsonObject, status: InjectionStatus) -> tuple[str, ...]:
    """Remove the maps and lists the injections created that are now empty, innermost first;
    returns the recorded paths still standing (they hold something)."""
    standing = []
    for path in reversed(status.created):
        tokens = path_tokens(path)
        parent = _container_parent(pod_template, tokens[:-1])
        value = parent.get(tokens[-1]) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and value in ({}, []):
            if path in status.was_null:
                parent[tokens[-1]] = None
            else:
                del parent[tokens[-1]]
        elif value is not None:
            standing.append(path)
    return tuple(reversed(standing))


def infer_added(pod_template: JsonObject, template: Template) -> Added:
    """What a template of this revision added, for a status that did not record it: its items found
    in the object with the same content."""
    spec = pod_template.get("spec") or {}
    metadata = pod_template.get("metadata") or {}
    sidecars = [_as_native(c) if template.native_sidecars else c for c in template.containers]
    init_items = [*template.init_containers, *(sidecars if template.native_sidecars else [])]
    containers = [] if template.native_sidecars else sidecars
    apps = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    apps = [c for c in apps if c.get("name") not in {s["name"] for s in containers}]
    return Added(
        containers=_present(spec.get("containers"), containers, "name"),
        init_containers=_present(spec.get("initContainers"), init_items, "name"),
        volumes=_present(spec.get("volumes"), template.volumes, "name"),
        image_pull_secrets=_present(spec.get("imagePullSecrets"), template.image_pull_secrets, "name"),
        annotations=_same_entries(metadata.get("annotations"), template.annotations),
        labels=_same_entries(metadata.get("labels"), template.labels),
        env=_per_app(apps, "env", template.env, "name"),
        volume_mounts=_per_app(apps, "volumeMounts", template.volume_mounts, "mountPath"),
    )


def _remove_items(items: Any, key: str, names: Iterable[str]) -> None:
    if not isinstance(items, list):
        return
    wanted = set(names)
    items[:] = [item for item in items if not (isinstance(item, dict) and item.get(key) in wanted)]


def _container_parent(pod_template: JsonObject, tokens: tuple[str, ...]) -> Any:
    """The node at ``tokens``, app containers named rather than indexed."""
    node: Any = pod_template
    for index, token in enumerate(tokens):
        if isinstance(node, list) and tokens[index - 1] == "containers":
            node = next((c for c in node if isinstance(c, dict) and c.get("name") == token), None)
        elif isinstance(node, dict):
            node = node.get(token)
        else:
            return None
    return node


def _present(items: Any, wanted: Iterable[JsonObject], key: str) -> tuple[str, ...]:
    found = {item.get(key): item for item in items or [] if isinstance(item, dict)}
    return tuple(str(w[key]) for w in wanted if found.get(w[key]) == w)


def _same_entries(entries: Any, wanted: Any) -> tuple[str, ...]:
    if not isinstance(entries, dict):
        return ()
    return tuple(key for key, value in wanted.items() if entries.get(key) == value)


def _per_app(
    apps: list[JsonObject], field: str, wanted: tuple[JsonObject, ...], key: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    found = []
    for container in apps:
        names = _present(container.get(field), wanted, key)
        if names:
            found.append((str(container.get("name")), names))
    return tuple(found)


def _as_native(container: JsonObject) -> JsonObject:
    return {**container, "restartPolicy": NATIVE_SIDECAR_RESTART_POLICY}
