"""Shared pieces of every format: reading Kubernetes item lists safely, merging them, building a body.

A source configuration is untrusted data: a field may hold anything YAML can. The readers here
either return the shape the field must have or raise ConfigProblem naming the field, and the format
then skips that one configuration with a warning instead of failing the whole import.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from webhook.convert.names import quote


class ConfigProblem(Exception):
    """One source configuration cannot be converted: ``field`` and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def object_list(body: Mapping[str, Any], field: str) -> list[dict[str, Any]]:
    """``body[field]`` as a list of objects (absent or null: empty), deep-copied."""
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigProblem(field, "expected a list of objects")
    return copy.deepcopy(value)


def string_list(body: Mapping[str, Any], field: str) -> list[str]:
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigProblem(field, "expected a list of names")
    return list(value)


def string_map(body: Mapping[str, Any], field: str) -> dict[str, str]:
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigProblem(field, "expected a map of strings to strings")
    return dict(value)


def optional_string(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigProblem(field, f"expected a string, not {quote(value)}")
    return value


def optional_bool(body: Mapping[str, Any], field: str) -> bool:
    value = body.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigProblem(field, f"expected true or false, not {quote(value)}")
    return value


def item_key(item: Mapping[str, Any], key: str = "name") -> str:
    """An item's key as the source's Go structs read it: absent is "", anything but a string is wrong."""
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigProblem(key, f"expected a string, not {quote(value)}")
    return value


def merge_by_key(
    base: list[dict[str, Any]], child: Iterable[dict[str, Any]], key: str = "name"
) -> list[dict[str, Any]]:
    """``child``'s items replace every ``base`` item of the same key in place; the others are appended."""
    merged = list(base)
    positions: dict[str, list[int]] = {}
    for index, item in enumerate(merged):
        positions.setdefault(item_key(item, key), []).append(index)
    for item in child:
        name = item_key(item, key)
        if name in positions:
            for index in positions[name]:
                merged[index] = item
        else:
            positions[name] = [len(merged)]
            merged.append(item)
    return merged


def add_absent(
    items: list[dict[str, Any]], extra: Iterable[dict[str, Any]], key: str = "name"
) -> list[dict[str, Any]]:
    """``items`` followed by each of ``extra`` whose key none of ``items`` has: the owner's values win."""
    merged = list(items)
    present = {item_key(item, key) for item in items}
    for item in extra:
        name = item_key(item, key)
        if name not in present:
            present.add(name)
            merged.append(copy.deepcopy(item))
    return merged


def with_pod_defaults(
    container: dict[str, Any], env: list[dict[str, Any]], mounts: list[dict[str, Any]], mount_key: str
) -> dict[str, Any]:
    """A copy of ``container`` with ``env`` (by name) and ``mounts`` (by ``mount_key``) it lacks."""
    merged = dict(container)
    for field, extra, key in (("env", env, "name"), ("volumeMounts", mounts, mount_key)):
        own = merged.get(field)
        if not extra:
            continue
        if own is not None and not (isinstance(own, list) and all(isinstance(i, dict) for i in own)):
            raise ConfigProblem(
                f"containers[{container.get('name')!r}].{field}", "expected a list of objects"
            )
        merged[field] = add_absent(list(own or []), extra, key)
    return merged


TEMPLATE_FIELDS = (
    "nativeSidecars",
    "containers",
    "initContainers",
    "volumes",
    "volumeMounts",
    "env",
    "imagePullSecrets",
    "annotations",
    "labels",
)


def template_body(**fields: Any) -> dict[str, Any]:
    """Our template's fields in the README's order, empty ones left out (keyword names as in YAML,
    ``init_containers`` style spelled the YAML way by the caller)."""
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise TypeError(f"not template fields: {sorted(unknown)}")
    return {name: fields[name] for name in TEMPLATE_FIELDS if fields.get(name)}
