"""Strategic merge patch (``application/strategic-merge-patch+json``) for the lists clients patch.

Maps merge key by key (``null`` deletes). Lists are replaced whole, except those the Kubernetes API
types tag ``patchStrategy:"merge"``, which merge element by element on their ``patchMergeKey``:

- PodSpec: ``containers``, ``initContainers``, ``ephemeralContainers``, ``volumes``,
  ``imagePullSecrets``, ``resourceClaims``, ``schedulingGates`` (key ``name``), ``hostAliases`` (``ip``),
  ``topologySpreadConstraints`` (``topologyKey``);
- Container: ``env`` (``name``), ``ports`` (``containerPort``), ``volumeMounts`` (``mountPath``),
  ``volumeDevices`` (``devicePath``);
- ``metadata.ownerReferences`` (``uid``), ``metadata.finalizers`` (a merged list of strings),
  ``status.conditions`` (``type``).

Directives: ``$patch: replace`` / ``$patch: delete`` on a map or a list element,
``$deleteFromPrimitiveList/<field>``, ``$retainKeys`` and ``$setElementOrder/<field>``. As in the
apiserver, an element without its merge key or an unknown ``$patch`` value is an error the apiserver
does not convert: HTTP 500 with no reason and Go's rendering of the offending map.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.fakes.status import unconverted

JsonObject = dict[str, Any]
PRIMITIVE = ""  # merge key of a merged list of scalars

_POD_SPEC_LISTS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
_CONTAINER_LISTS = {
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
}
_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")
_FIXED = {
    ("metadata", "ownerReferences"): "uid",
    ("metadata", "finalizers"): PRIMITIVE,
    ("status", "conditions"): "type",
}


@dataclass(frozen=True)
class Schema:
    """Where the PodSpec sits in a resource (None: it has none)."""

    pod_spec: tuple[str, ...] | None

    def merge_key(self, path: tuple[str, ...]) -> str | None:
        if path in _FIXED:
            return _FIXED[path]
        spec = self.pod_spec
        if spec is None or path[: len(spec)] != spec:
            return None
        rest = path[len(spec) :]
        if len(rest) == 1:
            return _POD_SPEC_LISTS.get(rest[0])
        if len(rest) == 2 and rest[0] in _CONTAINERS:
            return _CONTAINER_LISTS.get(rest[1])
        return None


def merge(original: JsonObject, patch: JsonObject, schema: Schema) -> JsonObject:
    merged = _merge_map(original, patch, (), schema)
    return merged if merged is not None else {}


def _merge_map(
    original: JsonObject, patch: JsonObject, path: tuple[str, ...], schema: Schema
) -> JsonObject | None:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise unconverted(f"unknown patch type: {directive} in map: {go_format(patch)}")
    result = copy.deepcopy(original)
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [item for item in result.get(name) or [] if item not in value]
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            merged = _merge_map(current if isinstance(current, dict) else {}, value, (*path, key), schema)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            current = result.get(key)
            result[key] = _merge_list(
                current if isinstance(current, list) else [], value, (*path, key), schema
            )
        else:
            result[key] = value
    for name, order in orders.items():
        merge_key = schema.merge_key((*path, name))
        if merge_key and isinstance(result.get(name), list):
            result[name] = _reorder(result[name], order, merge_key)
    if isinstance(patch.get("$retainKeys"), list):
        result = {k: v for k, v in result.items() if k in patch["$retainKeys"]}
    return result


def _merge_list(original: list[Any], patch: list[Any], path: tuple[str, ...], schema: Schema) -> list[Any]:
    key = schema.merge_key(path)
    if key is None:
        return [_strip(item) if isinstance(item, dict) else item for item in patch]
    if key == PRIMITIVE:
        return original + [
            item for index, item in enumerate(patch) if item not in original[:] + patch[:index]
        ]
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_strip(item) for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise unconverted(f"map: {go_format(item)} does not contain declared merge key: {key}")
        index = next(
            (i for i, e in enumerate(result) if isinstance(e, dict) and e.get(key) == item[key]), None
        )
        if item.get("$patch") == "delete":
            result = [e for e in result if not (isinstance(e, dict) and e.get(key) == item[key])]
        elif index is None:
            result.append(_merge_map({}, item, path, schema) or {})
        else:
            result[index] = _merge_map(result[index], item, path, schema) or {}
    return result


def _reorder(items: list[Any], order: list[Any], key: str) -> list[Any]:
    position = {entry.get(key): i for i, entry in enumerate(order) if isinstance(entry, dict)}
    ranked = [
        (position.get(item.get(key) if isinstance(item, dict) else None, len(order)), i)
        for i, item in enumerate(items)
    ]
    return [items[i] for _, i in sorted(ranked)]


def _strip(value: JsonObject) -> JsonObject:
    return {k: v for k, v in value.items() if not k.startswith("$")}


def go_format(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value: ``map[k:v k2:v2]`` (keys sorted), ``[a b]``, ``<nil>``."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
