"""Label and field selectors, with the errors kube-apiserver gives for the ones it cannot use.

Labels: ``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)`` and
``key notin (a,b)``. Fields: ``label=value``, ``label==value`` and ``label!=value`` over the field labels
a resource declares (``metadata.name`` and ``metadata.namespace`` for all, more for some: see
``resources``); any other label is a 400 ``field label not supported``, as the apiserver's field-label
conversion answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.resources import FieldGetter
from tests.fakes.status import bad_request

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # exists | !exists | in | notin
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!exists":
            return self.key not in labels
        if self.operator == "in":
            return self.key in labels and labels[self.key] in self.values
        return self.key not in labels or labels[self.key] not in self.values  # notin, !=


def parse_label_selector(text: str) -> tuple[Requirement, ...]:
    """Kubernetes label selector syntax; a ValueError names the requirement it cannot parse."""
    requirements: list[Requirement] = []
    for part in _split(text):
        part = part.strip()
        if not part:
            continue
        if part.startswith("!"):
            requirements.append(Requirement(part[1:].strip(), "!exists"))
        elif m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)", part):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            requirements.append(Requirement(m.group(1), m.group(2), values))
        elif m := re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)", part):
            operator = "notin" if m.group(2) == "!=" else "in"
            requirements.append(Requirement(m.group(1), operator, frozenset({m.group(3)})))
        elif re.fullmatch(r"[\w./-]+", part):
            requirements.append(Requirement(part, "exists"))
        else:
            raise ValueError(f"unable to parse requirement: {part!r}")
    return tuple(requirements)


def _split(text: str) -> Iterable[str]:
    depth, start = 0, 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            yield text[start:index]
            start = index + 1
    yield text[start:]


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


@dataclass(frozen=True)
class FieldTerm:
    label: str
    value: str
    negated: bool

    def matches(self, obj: JsonObject, getters: Mapping[str, FieldGetter]) -> bool:
        return (getters[self.label](obj) == self.value) != self.negated


def parse_field_selector(text: str, getters: Mapping[str, FieldGetter]) -> tuple[FieldTerm, ...]:
    terms: list[FieldTerm] = []
    for raw in re.split(r"(?<!\\),", text):
        if not raw.strip():
            continue
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", raw)
        if m is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
        label, operator, value = m.groups()
        if label not in getters:
            raise bad_request(f"field label not supported: {label}")
        unescaped = re.sub(r"\\(.)", r"\1", value)
        terms.append(FieldTerm(label, unescaped, operator == "!="))
    return tuple(terms)


@dataclass(frozen=True)
class Selector:
    """A request's scope: namespace (None: all), label requirements and field terms."""

    namespace: str | None
    labels: tuple[Requirement, ...] = ()
    fields: tuple[FieldTerm, ...] = ()
    getters: Mapping[str, FieldGetter] | None = None

    @property
    def empty(self) -> bool:
        return not self.labels and not self.fields

    def matches(self, obj: JsonObject) -> bool:
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        labels = labels_of(obj)
        if not all(r.matches(labels) for r in self.labels):
            return False
        return self.getters is None or all(t.matches(obj, self.getters) for t in self.fields)
