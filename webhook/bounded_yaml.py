"""YAML in, plain data out, with every size a hostile author controls bounded before it costs anything.

PyYAML builds aliases as shared objects, so a 500-byte "billion laughs" is a small graph in memory
that turns into gigabytes as soon as anything walks it as a tree (schema validation, hashing, an
error message quoting it, JSON encoding on every review). Loading therefore goes in three steps:
compose the node graph (linear in the text), measure it as the tree it stands for (memoised per
node, so linear in the graph too) and refuse it when that tree is too large, too deep or cyclic,
and only then construct Python objects. Aliases stay allowed: a bounded expansion costs no more
than the same text written out, and anchors are a normal way to share an env list between two
containers.

The node graph is kept with the data so that a problem found later can name its line. Events come
from libyaml when PyYAML has it (about three times faster than the pure-Python scanner, and it caps
flow nesting itself); the graph is always composed by PyYAML's Python composer, because libyaml's
composer recurses in C, where deep nesting cannot be caught as a RecursionError.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """``text_bytes`` of YAML; ``expanded``: nodes plus scalar characters with every alias expanded."""

    text_bytes: int
    expanded: int
    depth: int = 100


# A template is copied into every pod that requests it, and a whole pod must fit the API server's
# 1.5 MiB object limit; 256 KiB of sidecar definition is already far more than any real one, and
# keeps a tenant's template from holding the GIL for seconds while it parses. Written out without
# aliases, a document's expanded size stays below twice its text (a null costs a node, no byte).
TEMPLATE_LIMITS = Limits(text_bytes=MIB // 4, expanded=MIB // 2)
# A manifest file may hold several ConfigMaps of up to 1 MiB each.
FILE_LIMITS = Limits(text_bytes=4 * MIB, expanded=8 * MIB)


class YamlProblem(Exception):
    """Text that is not usable YAML within the limits; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class Loaded:
    """One YAML document: the data and the node graph it was built from (None for an empty one)."""

    value: Any
    node: yaml.Node | None


def _fast_loader() -> type[Any] | None:
    try:
        from yaml._yaml import CParser
    except ImportError:  # PyYAML built without libyaml
        return None

    class FastLoader(CParser, Composer, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        get_node = Composer.get_node
        check_node = Composer.check_node
        get_single_node = Composer.get_single_node

    return FastLoader


_LOADER: type[Any] = _fast_loader() or yaml.SafeLoader


def load_one(text: str, limits: Limits) -> Loaded:
    """The single document of ``text``; raises YamlProblem."""
    check_text_size(text, limits)
    loader = _new_loader(text)
    try:
        return _construct(loader, loader.get_single_node(), limits)[0]
    except YamlProblem:
        raise
    except Exception as exc:  # PyYAML reports some bad input with other errors than YAMLError
        raise _problem(exc) from exc
    finally:
        loader.dispose()


def load_all(text: str, limits: Limits) -> list[Loaded]:
    """Every document of ``text`` (empty ones included, as None); raises YamlProblem."""
    check_text_size(text, limits)
    loader = _new_loader(text)
    documents: list[Loaded] = []
    budget = limits.expanded
    try:
        while loader.check_node():
            # The budget is for the whole file: many documents just under it are no better than one over.
            loaded, size = _construct(
                loader, loader.get_node(), Limits(limits.text_bytes, budget, limits.depth)
            )
            budget -= size
            documents.append(loaded)
        return documents
    except YamlProblem:
        raise
    except Exception as exc:
        raise _problem(exc) from exc
    finally:
        loader.dispose()


def _new_loader(text: str) -> Any:
    """A loader over ``text``; building one already reads the text and refuses control characters."""
    try:
        return _LOADER(text)
    except Exception as exc:
        raise _problem(exc) from exc


def check_text_size(text: str, limits: Limits) -> None:
    # Characters never outnumber UTF-8 bytes; count bytes only when it could matter.
    if len(text) > limits.text_bytes or (
        len(text) * 4 > limits.text_bytes and len(text.encode("utf-8", "surrogatepass")) > limits.text_bytes
    ):
        raise YamlProblem(f"larger than {limits.text_bytes // 1024} KiB")


def expanded_size(root: yaml.Node, limits: Limits) -> int:
    """Nodes plus scalar characters of the tree ``root`` stands for; raises YamlProblem past a limit.

    Post-order over the graph, each node measured once: shared (aliased) nodes cost their size at
    every use without being walked again, and a node met again while it is still open is a cycle.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            children = list(_children(node))
            size = 1 + (len(node.value) if isinstance(node, yaml.ScalarNode) else 0)
            size += sum(sizes[id(child)] for child in children)
            depth = 1 + max((depths[id(child)] for child in children), default=0)
            if size > limits.expanded:
                raise YamlProblem(
                    f"expands to more than {_amount(limits.expanded)} nodes and characters "
                    "(aliases are counted at every use)",
                    node.start_mark.line + 1,
                )
            if depth > limits.depth:
                raise YamlProblem(f"nested deeper than {limits.depth} levels", node.start_mark.line + 1)
            sizes[key], depths[key] = size, depth
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlProblem("an alias refers to a node that contains it", node.start_mark.line + 1)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _amount(count: int) -> str:
    return f"{count // 1024} Ki" if count >= 1024 and count % 1024 == 0 else str(count)


def line_of(root: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node along ``path``: a key's own line for a map entry."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in path:
        found = _child(node, part)
        if found is None:
            break
        key_line, node = found
        line = key_line
    return line


def node_at(root: yaml.Node | None, path: Sequence[str | int]) -> yaml.Node | None:
    """The node at ``path`` below ``root``, or None when there is none."""
    node = root
    for part in path:
        found = _child(node, part) if node is not None else None
        if found is None:
            return None
        node = found[1]
    return node


def _construct(loader: Any, node: yaml.Node | None, limits: Limits) -> tuple[Loaded, int]:
    if node is None:
        return Loaded(None, None), 0
    size = expanded_size(node, limits)
    return Loaded(loader.construct_document(node), node), size


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _child(node: yaml.Node, part: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item.start_mark.line + 1, item
    if isinstance(node, yaml.MappingNode):
        for key, value in reversed(node.value):  # the last duplicate key is the one that counts
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key.start_mark.line + 1, value
    return None


def _problem(exc: Exception) -> YamlProblem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if not isinstance(exc, yaml.YAMLError):
        problem = f"{type(exc).__name__}: {problem}"
    problem = " ".join(str(problem).split())  # a ReaderError's text spans lines: keep messages on one
    if mark is not None:
        return YamlProblem(f"not valid YAML: {problem} (column {mark.column + 1})", mark.line + 1)
    return YamlProblem(f"not valid YAML: {problem}")
