"""The collector the template checks report into, and typed reads of untyped template data.

Checks run on data the schema may already have refused, so every read is defensive: a value of the
wrong type reads as absent and is left to the schema's own message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FieldPath = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_PATH_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*)|\[([0-9]+)\]|\[([^\]]*)\]")


class Findings:
    """Problems found so far, each at a field path, in the order found."""

    def __init__(self) -> None:
        self.items: list[tuple[FieldPath, str]] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.items.append((path, message))

    def extend(self, path: FieldPath, messages: Iterable[str]) -> None:
        for message in messages:
            self.add(path, message)

    def __bool__(self) -> bool:
        return bool(self.items)


def format_path(path: FieldPath) -> str:
    """``containers[0].resources.limits.memory``; keys that are not plain words go in brackets."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part}]"
    return text


def parse_path(text: str) -> FieldPath:
    """The inverse of ``format_path``, for paths other modules report as text."""
    parts: list[str | int] = []
    for match in _PATH_PART.finditer(text):
        word, index, key = match.groups()
        parts.append(int(index) if index is not None else word if word is not None else key)
    return tuple(parts)


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def entries(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def text(obj: Any, key: str) -> str | None:
    value = mapping(obj).get(key)
    return value if isinstance(value, str) else None


def integer(obj: Any, key: str) -> int | None:
    value = mapping(obj).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def present(obj: Any, key: str) -> bool:
    """Set to something: Kubernetes treats null as unset."""
    return mapping(obj).get(key) is not None
