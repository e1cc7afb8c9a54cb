"""CEL text for the exported policies: JSON values as literals, JSON Patch operations, pointers.

Kubernetes compiles admission policy expressions with homogeneous aggregate literals: a map or list
literal whose values differ in type (a container's ``name`` string beside its ``ports`` list) is a
type error. Every value inside a literal is therefore wrapped in ``dyn()``, which the JSON Patch
``value`` field accepts as it accepts any string, number, list or map.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from webhook.core.jsontypes import JsonObject


def string(text: str) -> str:
    """A CEL string literal (JSON's escapes are a subset of CEL's; non-ASCII is written as is)."""
    return json.dumps(text, ensure_ascii=False)


def literal(value: object) -> str:
    """A JSON value (from a validated template) as a CEL literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return string(value)
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        entries = ", ".join(f"{string(str(k))}: dyn({literal(v)})" for k, v in value.items())
        return "{" + entries + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(f"dyn({literal(item)})" for item in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def strings(values: Iterable[str]) -> str:
    """A list of strings (homogeneous: no ``dyn()`` needed)."""
    return "[" + ", ".join(string(v) for v in values) + "]"


def pointer_token(key: str) -> str:
    """RFC 6901 escaping, done here rather than with ``jsonpatch.escapeKey()``: the keys are known."""
    return key.replace("~", "~0").replace("/", "~1")


def patch(op: str, path: str, value: str) -> str:
    """One JSON Patch operation; ``path`` and ``value`` are CEL expressions."""
    return f"JSONPatch{{op: {string(op)}, path: {path}, value: {value}}}"


def add_items(path: str, items: Iterable[JsonObject]) -> list[str]:
    """``add`` operations appending each item to the list at ``path`` (a CEL string expression)."""
    return [patch("add", f"{path} + {string('/-')}", literal(item)) for item in items]


def conditional(test: str, then: str, otherwise: str) -> str:
    return f"(({test}) ? {then} : {otherwise})"


def all_of(conditions: Iterable[str]) -> str:
    parts = [f"({c})" for c in conditions]
    return " && ".join(parts) if parts else "true"


def any_of(conditions: Iterable[str]) -> str:
    parts = [f"({c})" for c in conditions]
    return " || ".join(parts) if parts else "false"
