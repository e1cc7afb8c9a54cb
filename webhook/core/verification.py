"""verify_patch(): apply a patch of RFC 6902 ``add`` operations apart from the builder, and check it.

The builder (patching.py) decides where each op goes from its own view of what the patch created so
far; this module knows nothing of that view. It applies the ops one by one, as RFC 6902 says a
kube-apiserver does, and fails on any op that would not apply there (a missing parent, a wrong type,
an index out of range, an op other than ``add``), then checks that container and volume names stay
unique. A builder bug so becomes an internal error, answered as ``--on-internal-error`` says,
instead of a patch kube-apiserver refuses or a pod it rejects.

It was ``jsonpatch.apply_patch``, which deep-copies every op's value and builds pointer and
operation objects per op: that was a third of a review's time in-process (docs/design.md, "The
hot path"). Here only the containers on an op's path are copied (copy on write), values are
shared, never changed. The tests still apply every patch with jsonpatch and compare (the golden,
property and fuzz tests), so an independent implementation keeps checking this one.
"""

from __future__ import annotations

from typing import Any

from webhook.core.jsontypes import JsonObject, PatchOp
from webhook.core.merging import names_in
from webhook.core.pod_spec import named_uniquely

_DUPLICATES = "injection produced duplicate container or volume names"
# RFC 6901: an array index is "0" or digits without a leading zero.
_DIGITS = frozenset("0123456789")


class PatchDoesNotApply(Exception):
    """A builder bug: the patch would not apply, or breaks the pod's unique names.

    An Exception rather than an AssertionError: classes compiled by mypyc can extend only a few
    builtin exceptions, and nothing catches this one by its base."""


def verify_patch(obj: JsonObject, patch: tuple[PatchOp, ...], root: tuple[str, ...]) -> JsonObject:
    """The object with the patch applied (``obj`` itself is never changed); raises PatchDoesNotApply.

    Containers on the ops' paths are copied once; everything else is shared with ``obj`` and the ops'
    values, so checking a 200 KiB pod costs no copy of it.
    """
    patched: JsonObject = dict(obj)
    owned = {id(patched)}  # the containers made here, which may be changed; the others are copied first
    for op in patch:
        if op.get("op") != "add":
            raise PatchDoesNotApply(f"unexpected op {op.get('op')!r} at {op.get('path')!r}")
        path = op["path"]
        tokens = unescape(path) if "~" in path else path.split("/")[1:]
        if not tokens:
            raise PatchDoesNotApply("an op replaces the whole object")
        last = tokens.pop()
        node: Any = patched
        for token in tokens:
            # A map or list in a map, most steps, is handled inline; steps in lists and failures in _step.
            child: Any = node.get(token) if type(node) is dict else None
            kind = type(child)
            if kind is not dict and kind is not list:
                child = _step(node, token, path, owned)
            elif id(child) not in owned:
                child = node[token] = dict(child) if kind is dict else list(child)
                owned.add(id(child))
            node = child
        if type(node) is dict:  # the last step inline too: a member set, an item appended
            node[last] = op["value"]  # RFC 6902: an add to an existing member replaces it
        elif last == "-":
            node.append(op["value"])
        else:
            _add(node, last, op["value"], path)
    _check_unique_names(patched, root)
    return patched


def unescape(path: str) -> list[str]:
    """The tokens of a JSON pointer (RFC 6901); ``""`` is the whole document."""
    return [token.replace("~1", "/").replace("~0", "~") for token in path.split("/")[1:]]


def _child(node: Any, token: str, path: str) -> Any:
    if isinstance(node, dict):
        child = node.get(token)
    elif _is_index(token) and int(token) < len(node):
        child = node[int(token)]
    else:
        child = None
    if not isinstance(child, dict | list):
        raise PatchDoesNotApply(f"{path}: {token!r} is missing or not a map or list")
    return child


def _step(node: Any, token: str, path: str, owned: set[int]) -> Any:
    """The map or list at ``token`` of ``node``, copied into it unless it was made here."""
    child = _child(node, token, path)
    if id(child) not in owned:
        child = dict(child) if isinstance(child, dict) else list(child)
        owned.add(id(child))
        node[int(token) if isinstance(node, list) else token] = child
    return child


def _add(node: Any, token: str, value: Any, path: str) -> None:
    if isinstance(node, dict):
        node[token] = value  # RFC 6902: an add to an existing member replaces it
    elif token == "-":
        node.append(value)
    elif _is_index(token) and int(token) <= len(node):
        node.insert(int(token), value)
    else:
        raise PatchDoesNotApply(f"{path}: index out of range for a list of {len(node)}")


def _is_index(token: str) -> bool:
    return bool(token) and set(token) <= _DIGITS and (token == "0" or token[0] != "0")


def _check_unique_names(patched: JsonObject, root: tuple[str, ...]) -> None:
    node: Any = patched
    for token in (*root, "spec"):
        node = node.get(token) if isinstance(node, dict) else None
    spec = node if isinstance(node, dict) else {}
    apps = spec.get("containers") or []
    inits = spec.get("initContainers") or []
    volumes = spec.get("volumes") or []
    if type(apps) is list and type(inits) is list and type(volumes) is list:  # always, but for a bug
        taken: set[str] = set()  # containers and init containers share one name space
        unique = named_uniquely(apps, taken) and named_uniquely(inits, taken)
        if not (unique and named_uniquely(volumes, set())):
            raise PatchDoesNotApply(_DUPLICATES)
        return
    containers = [*apps, *inits]
    if len(names_in(containers)) != len(containers) or len(names_in(volumes)) != len(volumes):
        raise PatchDoesNotApply(_DUPLICATES)
