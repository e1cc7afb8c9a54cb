"""salesforce's sidecar configuration is a Go text/template (delimiters ``{% %}``) over the pod.

It is rendered for every pod at admission, so a value may come from the pod: ``{% .Namespace %}``,
``{% index .Annotations "team/role" %}``. A template of ours is the same for every pod, but a
container can read some pod fields itself through the downward API; an env var whose whole value is
one such expression becomes ``valueFrom.fieldRef``. Anything else that reads the pod cannot be
imported, and control actions (``if``, ``range``, ...) make the file's very shape depend on the pod.

Before YAML reads the file, every action becomes a placeholder token (``{%`` at the start of a
plain scalar is not YAML); after, the placeholders are found and translated, or reported.
"""

from __future__ import annotations

import re
from typing import Any

from webhook.convert.model import ConversionError

ACTION = re.compile(r"\{%(.*?)%\}", re.S)
PLACEHOLDER = "__sidecar_injector_expression_{}__"
FOUND = re.compile(r"__sidecar_injector_expression_(\d+)__")
CONTROL = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)
_FIELDS = {
    ".Name": "metadata.name",
    ".ObjectMeta.Name": "metadata.name",
    ".Namespace": "metadata.namespace",
    ".ObjectMeta.Namespace": "metadata.namespace",
    ".Spec.ServiceAccountName": "spec.serviceAccountName",
    ".Spec.NodeName": "spec.nodeName",
}
_INDEX = re.compile(r'index\s+\.(?:ObjectMeta\.)?(Annotations|Labels)\s+"([^"\\]*)"')
# What the pod looked like when salesforce rendered it, against what the container reads later.
_CAVEATS = {
    "metadata.name": "salesforce saw the name given at creation, empty for a Deployment's pods",
    "spec.nodeName": "salesforce saw it empty: pods are scheduled after admission",
}


class Expressions:
    """The actions of the files read so far, by placeholder number."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def substitute(self, origin: str, text: str) -> str:
        """``text`` with each action replaced by its placeholder; raises ConversionError for an action
        the import cannot keep (control flow, whitespace trimming)."""

        def replace(match: re.Match[str]) -> str:
            action = match.group(1)
            line = text.count("\n", 0, match.start()) + 1
            if action.startswith("-") or action.endswith("-"):
                raise ConversionError(origin, f"line {line}: {{%- -%}} whitespace trimming is not supported")
            inner = " ".join(action.split())
            if inner.startswith("/*"):
                return ""
            if not inner:
                raise ConversionError(origin, f"line {line}: an empty action (Go templates refuse it too)")
            keyword = inner.split(" ", 1)[0]
            if keyword in CONTROL:
                raise ConversionError(
                    origin,
                    f"line {line}: {{% {keyword} %}} makes the configuration's shape depend on the "
                    "pod; the import cannot evaluate it: render the file by hand for each kind of pod",
                )
            self.found.append(inner)
            return PLACEHOLDER.format(len(self.found) - 1)

        return ACTION.sub(replace, text)

    def restore(self, text: str) -> str:
        """``text`` with the original actions back in place of their placeholders."""
        return FOUND.sub(lambda m: f"{{% {self.found[int(m.group(1))]} %}}", text)

    def field_path(self, value: str) -> str | None:
        """The downward API fieldPath for a value that is exactly one translatable expression."""
        match = FOUND.fullmatch(value)
        if match is None:
            return None
        expression = self.found[int(match.group(1))]
        if expression in _FIELDS:
            return _FIELDS[expression]
        index = _INDEX.fullmatch(expression)
        if index is None:
            return None
        field = "annotations" if index.group(1) == "Annotations" else "labels"
        return f"metadata.{field}['{index.group(2)}']"


def caveat(field_path: str) -> str | None:
    return _CAVEATS.get(field_path)


def untranslated(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(field path, text) of each string in ``value`` (keys included) that still holds a placeholder."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and FOUND.search(key):
                    found.append((f"{where} (a key)", key))
                stack.append((f"{where}.{key}" if where else str(key), child))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(node))
        elif isinstance(node, str) and FOUND.search(node):
            found.append((where, node))
    return sorted(found)
