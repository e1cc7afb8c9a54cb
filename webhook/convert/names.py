"""Our template names are DNS-1123 labels; the sources' names are not (``logger:v1.2``, ``a.b``).

The mapping is deterministic, so a workload rewritten today and one rewritten next month get the
same name: lower case, every run of other characters becomes one ``-``, and a name longer than 63
characters keeps its start and gains a digest of the whole. Two source names that map to one label
are told apart the same way, the first one given keeping the plain label.
"""

from __future__ import annotations

import hashlib
import re

MAX_LABEL = 63
_NOT_LABEL = re.compile(r"[^a-z0-9]+")
_DIGEST = 6


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]


def to_label(text: str) -> str | None:
    """``text`` as a DNS-1123 label, or None when nothing of it is usable (``":::"``)."""
    label = _NOT_LABEL.sub("-", text.lower()).strip("-")
    if not label:
        return None
    if len(label) > MAX_LABEL:
        label = f"{label[: MAX_LABEL - _DIGEST - 1].rstrip('-')}-{digest(text)}"
    return label


def quote(value: object, limit: int = 80) -> str:
    """A source value as messages show it: double-quoted, clipped (input may be hostile)."""
    text = value if isinstance(value, str) else repr(value)
    shown = text if len(text) <= limit else f"{text[:limit]}…"
    return '"' + shown.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class NameRegistry:
    """Hands out unique labels: the first claimant of a label keeps it, later ones get a digest."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    def claim(self, wanted: str, key: str) -> tuple[str, str | None]:
        """The label for ``key`` (a source name, mapped to ``wanted``) and, when it had to differ from
        ``wanted``, the owner of ``wanted``."""
        owner = self._owners.get(wanted)
        if owner is None or owner == key:
            self._owners[wanted] = key
            return wanted, None
        label = f"{wanted[: MAX_LABEL - _DIGEST - 1].rstrip('-')}-{digest(key)}"
        self._owners[label] = key
        return label, owner
