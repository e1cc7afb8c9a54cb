"""Builds RFC 6902 ``add`` operations that apply cleanly to the original object.

Ops are built, not diffed: python-json-patch's ``make_patch`` has open bugs that produce patches
which do not apply. The builder knows which containers the original object has and which the patch
itself created, so a missing array or map is created exactly once and later items are appended with
``/-`` (vault-k8s's bug was re-adding ``/spec/volumes`` and so dropping earlier items). Items that
must come first (``initContainersFirst``) are added at an index, which shifts the items after it;
``lookup`` of a list the original object had does not show what was added to it, so callers never
address such a list's items by index.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from webhook.core.errors import InvalidObject
from webhook.core.jsontypes import JsonObject, JsonValue, PatchOp

Tokens = tuple[str, ...]
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Created:
    """A map or list the patch creates; ``was_null`` when the original held ``null`` there."""

    tokens: Tokens
    was_null: bool = False


def escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(tokens: Sequence[str]) -> str:
    joined = "/".join(tokens)
    # Most pointers need no escape: joined and checked once instead of two replaces per token.
    if "~" not in joined and joined.count("/") == len(tokens) - 1:
        return "/" + joined
    if not tokens:
        return ""  # the whole document
    return "/" + "/".join([escape_token(t) if "~" in t or "/" in t else t for t in tokens])


def describe(tokens: Sequence[str]) -> str:
    return ".".join(tokens) or "(root)"


class PatchBuilder:
    """Accumulates ops against one original object; it never mutates that object."""

    def __init__(self, original: JsonObject) -> None:
        self._original = original
        # What this patch created, as the builder's own copies, keyed by pointer tokens.
        self._created: dict[Tokens, JsonValue] = {}
        self._depths: list[int] = []
        """The lengths of the keys of ``_created``, longest first."""
        self.ops: list[PatchOp] = []
        self.created: list[Created] = []
        """Every map and list the patch creates, outermost first."""

    def lookup(self, tokens: Tokens) -> JsonValue:
        """The value at ``tokens`` as the patch so far would leave it; _MISSING when absent or null."""
        if not self._depths:  # nothing created yet: most lookups
            return _walk(self._original, tokens)
        # The deepest created prefix wins; only the lengths of created paths can match one.
        for depth in self._depths:
            if depth <= len(tokens):
                base = self._created.get(tokens[:depth], _MISSING)
                if base is not _MISSING:
                    return _walk(base, tokens[depth:])
        return _walk(self._original, tokens)

    def exists(self, tokens: Tokens) -> bool:
        return self.lookup(tokens) is not _MISSING

    def append(self, list_tokens: Tokens, item: JsonValue) -> None:
        current = self.lookup(list_tokens)
        if current is _MISSING:
            self._create(list_tokens, [item])
            return
        if not isinstance(current, list):
            raise InvalidObject(describe(list_tokens), f"expected a list, found {type(current).__name__}")
        # The most common op of all: emitted here ("-" needs no escape), no tuple built for it.
        self.ops.append({"op": "add", "path": pointer(list_tokens) + "/-", "value": item})
        if self._depths and self._is_created(list_tokens):
            current.append(item)

    def insert(self, list_tokens: Tokens, index: int, item: JsonValue) -> None:
        """Add ``item`` at ``index`` of the list (RFC 6902 shifts the items after it)."""
        current = self.lookup(list_tokens)
        if current is _MISSING:
            self._create(list_tokens, [item])
            return
        if not isinstance(current, list):
            raise InvalidObject(describe(list_tokens), f"expected a list, found {type(current).__name__}")
        self._emit((*list_tokens, str(index)), item)
        if self._is_created(list_tokens):
            current.insert(index, item)

    def put(self, map_tokens: Tokens, key: str, value: JsonValue) -> None:
        current = self.lookup(map_tokens)
        if current is _MISSING:
            self._create(map_tokens, {key: value})
            return
        if not isinstance(current, dict):
            raise InvalidObject(describe(map_tokens), f"expected a map, found {type(current).__name__}")
        self._emit((*map_tokens, key), value)
        if self._depths and self._is_created(map_tokens):
            current[key] = value

    def _is_created(self, tokens: Tokens) -> bool:
        return any(depth <= len(tokens) and tokens[:depth] in self._created for depth in self._depths)

    def would_create(self, tokens: Tokens) -> list[Created]:
        """The maps and lists that appending or putting at ``tokens`` would create (none if it exists)."""
        if self.exists(tokens):
            return []
        depth = self._existing_depth(tokens)
        target = tokens[: depth + 1]
        parent = _walk(self._original, target[:-1]) if not self._is_created(target[:-1]) else _MISSING
        was_null = isinstance(parent, dict) and target[-1] in parent and parent[target[-1]] is None
        levels = [tokens[:length] for length in range(depth + 1, len(tokens) + 1)]
        return [Created(level, was_null and level == target) for level in levels]

    def _existing_depth(self, tokens: Tokens) -> int:
        depth = len(tokens) - 1
        while depth > 0 and not self.exists(tokens[:depth]):
            depth -= 1
        return depth

    def _create(self, tokens: Tokens, value: JsonValue) -> None:
        """Add the value at the deepest existing ancestor, nesting maps for the missing levels."""
        self.created.extend(self.would_create(tokens))
        depth = self._existing_depth(tokens)
        if depth > 0:
            parent = self.lookup(tokens[:depth])
            if not isinstance(parent, dict):
                raise InvalidObject(
                    describe(tokens[:depth]), f"expected a map, found {type(parent).__name__}"
                )
        target = tokens[: depth + 1]
        self._emit(target, _nest(value, tokens[depth + 1 :]))
        # The builder's own view gets fresh containers (the items inside are shared and never
        # changed), so later appends and puts do not alter the op already emitted.
        self._created[target] = _nest(copy.copy(value), tokens[depth + 1 :])
        if len(target) not in self._depths:
            self._depths = sorted((*self._depths, len(target)), reverse=True)

    def _emit(self, tokens: Tokens, value: JsonValue) -> None:
        self.ops.append({"op": "add", "path": pointer(tokens), "value": value})


def _nest(value: JsonValue, tokens: Sequence[str]) -> JsonValue:
    for token in reversed(tokens):
        value = {token: value}
    return value


def _walk(base: JsonValue, tokens: Sequence[str]) -> JsonValue:
    node = base
    for token in tokens:
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
        if node is None:
            return _MISSING
    return node
