"""check_pod_spec(): the shape the engine relies on in an opted-in object's pod template.

Every opted-in review passes here, so the check is one pass over the lists the engine reads (types
and unique names together) that only answers "sound or not"; a pod spec it does not call sound goes
through the checks one by one, in their order, so that the refusal names the first problem as it
always did. The fast pass is conservative: it accepts only what the ordered checks accept
(``tests/unit/core/test_pod_spec.py`` compares the two with hypothesis).
"""

from __future__ import annotations

from webhook.core.bounds import MAX_CONTAINERS, MAX_VOLUMES, check_item_counts
from webhook.core.errors import InvalidObject
from webhook.core.jsontypes import JsonObject
from webhook.core.patching import describe

_LISTS_OF_OBJECTS = ("containers", "initContainers", "volumes", "imagePullSecrets")
_CONTAINER_LISTS = ("env", "volumeMounts")
_COUNTED_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")
_MAPS_ONLY = frozenset({dict})


def check_pod_spec(pod_template: JsonObject, root: tuple[str, ...]) -> None:
    """Raises InvalidObject, naming the first problem, unless the pod spec has the shape the engine
    relies on (lists of objects, container and volume names unique) and is within the bounds."""
    if not is_sound(pod_template):
        refuse_unsound(pod_template, root)


def is_sound(pod_template: JsonObject) -> bool:
    """True only when refuse_unsound() would raise nothing: one pass, no message built, the item
    counts of bounds.py included."""
    spec = pod_template.get("spec")
    metadata = pod_template.get("metadata")
    if type(spec) is not dict or not (metadata is None or type(metadata) is dict):
        return False
    containers = spec.get("containers")
    if type(containers) is not list or not containers or not _within_bounds(spec):
        return False
    names: set[str] = set()
    for item in containers:
        if not _named_object(item, names):
            return False
        for field in _CONTAINER_LISTS:
            items = item.get(field)
            if items is not None and not _objects(items):
                return False
    init = spec.get("initContainers")
    if init is not None and not named_uniquely(init, names):
        return False
    volumes = spec.get("volumes")
    if volumes is not None and not named_uniquely(volumes, set()):
        return False
    secrets = spec.get("imagePullSecrets")
    return secrets is None or _objects(secrets)


def named_uniquely(items: object, names: set[str]) -> bool:
    """A list of maps, each with a string name not in ``names`` nor in another item (each name is
    added to ``names``): what len(names_in(items)) == len(items) says, without building a set first."""
    return type(items) is list and all(_named_object(item, names) for item in items)


def _within_bounds(spec: JsonObject) -> bool:
    """check_item_counts() would pass: counted first, so a hostile pod costs no walk."""
    containers = 0
    for field in _COUNTED_CONTAINERS:
        items = spec.get(field)
        if isinstance(items, list):
            containers += len(items)
    volumes = spec.get("volumes")
    return containers <= MAX_CONTAINERS and not (isinstance(volumes, list) and len(volumes) > MAX_VOLUMES)


def _named_object(item: object, names: set[str]) -> bool:
    """A map with a string name not in ``names`` (which it is added to)."""
    if type(item) is not dict:
        return False
    name = item.get("name")
    if type(name) is not str or name in names:
        return False
    names.add(name)
    return True


def _objects(items: object) -> bool:
    return type(items) is list and _MAPS_ONLY.issuperset(map(type, items))  # no Python frame per item


def refuse_unsound(pod_template: JsonObject, root: tuple[str, ...]) -> None:
    """The checks one by one, in order: raises InvalidObject for the first problem found."""
    spec = pod_template.get("spec")
    where = describe((*root, "spec"))
    if not isinstance(spec, dict):
        raise InvalidObject(where, "the pod spec is missing or not an object")
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise InvalidObject(f"{where}.containers", "expected a non-empty list of containers")
    check_item_counts(spec, where)
    for field in _LISTS_OF_OBJECTS:
        items = spec.get(field)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InvalidObject(f"{where}.{field}", "expected a list of objects")
    for index, container in enumerate(containers):
        for field in _CONTAINER_LISTS:
            items = container.get(field)
            if items is not None and not (
                isinstance(items, list) and all(isinstance(i, dict) for i in items)
            ):
                raise InvalidObject(f"{where}.containers[{index}].{field}", "expected a list of objects")
    # Containers and init containers share one name space; the merge and its check rely on unique names.
    for fields in (("containers", "initContainers"), ("volumes",)):
        names: set[object] = set()
        for field in fields:
            for index, item in enumerate(spec.get(field) or []):
                name = item.get("name")
                if not isinstance(name, str) or name in names:
                    raise InvalidObject(f"{where}.{field}[{index}].name", "expected a name unique in the pod")
                names.add(name)
    metadata = pod_template.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidObject(describe((*root, "metadata")), "expected an object")
