"""One reader for manifest files: multi-document YAML in, Kubernetes objects out, ``kind: List`` flattened.

The template folders and ``sidecar-injector inject`` read the same files users ``kubectl apply``, so
they share this reader and its rules: an empty document is skipped; every other document must be an
object (a mapping), and a ``kind: List``'s items must be objects too. Anything else is a
ManifestError that names the line, never an exception from deeper in the caller. The YAML itself is
read by ``webhook.bounded_yaml``, so a hostile file (an alias bomb, deep nesting, megabytes) is
refused before it costs anything, whichever command reads it.

ManifestError       the text is not a stream of Kubernetes objects (message says where and why)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from webhook.bounded_yaml import FILE_LIMITS, Limits, YamlProblem, load_all, node_at


class ManifestError(ValueError):
    """Text that cannot be read as Kubernetes objects: ``problem``, at ``line`` (1-based) when known."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.problem = problem
        self.line = line


@dataclass(frozen=True, slots=True)
class ManifestDocument:
    """One YAML document: a single object, or a ``kind: List`` with its items, with their YAML nodes."""

    body: dict[str, Any]
    line: int
    """1-based line where the document's content starts."""
    node: yaml.Node | None = None
    items: tuple[dict[str, Any], ...] | None = None
    """A List's items; None when the document is a single object."""

    @property
    def objects(self) -> tuple[dict[str, Any], ...]:
        return self.items if self.items is not None else (self.body,)

    def located(self) -> list[tuple[dict[str, Any], yaml.Node | None]]:
        """Each object with its node, so that a later problem can name its line."""
        if self.items is None:
            return [(self.body, self.node)]
        return [(item, node_at(self.node, ("items", index))) for index, item in enumerate(self.items)]


def load_documents(text: str, limits: Limits = FILE_LIMITS) -> list[ManifestDocument]:
    """Every non-empty document of the stream, each checked to be an object or a List of objects."""
    try:
        loaded = load_all(text, limits)
    except YamlProblem as exc:
        raise ManifestError(exc.message, exc.line) from exc
    return [_checked(document.value, document.node) for document in loaded if document.value is not None]


def _checked(body: Any, node: yaml.Node | None) -> ManifestDocument:
    line = node.start_mark.line + 1 if node is not None else 1
    if not isinstance(body, dict):
        problem = f"the document is {_a(body)}, not a Kubernetes object"
        raise ManifestError(f"{problem} (a mapping with apiVersion, kind and metadata)", line)
    if body.get("kind") != "List":
        return ManifestDocument(body, line, node)
    items = body.get("items")
    if items is None:
        return ManifestDocument(body, line, node, ())
    if not isinstance(items, list):
        raise ManifestError(f"kind List: items is {_a(items)}, not a list of objects", line)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            item_node = node_at(node, ("items", index))
            where = item_node.start_mark.line + 1 if item_node is not None else line
            raise ManifestError(f"kind List: items[{index}] is {_a(item)}, not a Kubernetes object", where)
    return ManifestDocument(body, line, node, tuple(items))


def _a(value: Any) -> str:
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), f"a {type(value).__name__}")
