"""Whether an object opted in to injection, and to which templates: every signal, one precedence table.

The only place that reads opt-in signals and applies their precedence; the engine, ``inject``'s
warnings and later consumers (drift, explain, exports) call it rather than re-implement it.

API:

- ``decide(obj, kind, namespace, policy) -> OptInDecision``: ``obj`` as admitted, ``kind`` its kind
  (which says where its pod template is), ``namespace`` the namespace's labels and annotations or
  None when unknown (then no namespace signal counts). Raises InvalidObject when a signal lists
  more than ``MAX_TEMPLATES`` names.
- ``OptInDecision``: ``templates`` (names to inject, in order; empty when not opted in),
  ``opted_in``, ``opted_out`` (an explicit opt-out decided), ``decided_by`` (the deciding Signal
  or None), ``signals`` (every signal found, highest precedence first), ``disagreements()`` (one
  line per signal the decision overrode with a different answer).
- ``Signal``: ``source`` (a ``Source``), ``written`` (the keys and values as found),
  ``templates`` (empty for an opt-out), ``opts_out``.
- ``Source`` and ``PRECEDENCE``: the precedence table as data, highest first;
  ``precedence_table()`` renders it as the README's Markdown table (a test keeps them equal).
- ``requested_names(annotations, policy)``: the names one metadata's annotations ask for.

The rule: the highest source that carries a signal decides, alone. Template names inject those
templates, in order; ``"false"``, ``"none"`` or an empty value opt out. A Pod is its own pod
template, so for a Pod only the object rows and the namespace rows exist.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.errors import InvalidObject
from webhook.core.jsontypes import JsonObject, JsonValue
from webhook.core.model import (
    DEFAULT_ANNOTATION_PREFIX,
    LEGACY_ANNOTATION_PREFIX,
    InjectionPolicy,
    NamespaceMetadata,
)
from webhook.core.workloads import SUPPORTED_KINDS, locate_pod_template

OPT_OUT_VALUES = frozenset({"", "false", "none"})
MAX_TEMPLATES = 64
"""Names one signal may list: far above any real use; keeps a hostile list from costing lookups."""


class Source(enum.Enum):
    """Where a signal was found; the order of the members is the precedence, highest first."""

    OBJECT_ANNOTATION = "object annotation"
    OBJECT_LABEL = "object label"
    POD_TEMPLATE_ANNOTATION = "pod-template annotation"
    POD_TEMPLATE_LABEL = "pod-template label"
    NAMESPACE_ANNOTATION = "namespace annotation"
    NAMESPACE_LABEL = "namespace label"


OBJECT_SOURCES = frozenset({Source.OBJECT_ANNOTATION, Source.OBJECT_LABEL})
"""A workload's own metadata: its Pods never see these signals (pod injection copies them)."""


@dataclass(frozen=True, slots=True)
class PrecedenceRow:
    source: Source
    where: str
    opt_in: str
    opt_out: str


_INJECT = f"`{DEFAULT_ANNOTATION_PREFIX}/inject"
_ANNOTATION_IN = f'{_INJECT}: "a, b"` (several, in order)'
_LEGACY_IN = f'`{LEGACY_ANNOTATION_PREFIX}<name>: "true"`'
_LABEL_IN = f"{_INJECT}=<name>` (one)"
PRECEDENCE = (
    PrecedenceRow(
        Source.OBJECT_ANNOTATION, "the object's annotations", f"{_ANNOTATION_IN}; {_LEGACY_IN}", '`"false"`'
    ),
    PrecedenceRow(Source.OBJECT_LABEL, "the object's labels", _LABEL_IN, "`false`"),
    PrecedenceRow(
        Source.POD_TEMPLATE_ANNOTATION,
        "the pod template's annotations",
        f"{_ANNOTATION_IN}; {_LEGACY_IN}",
        '`"false"`',
    ),
    PrecedenceRow(Source.POD_TEMPLATE_LABEL, "the pod template's labels", _LABEL_IN, "`false`"),
    PrecedenceRow(Source.NAMESPACE_ANNOTATION, "the Namespace's annotations", _ANNOTATION_IN, '`"false"`'),
    PrecedenceRow(Source.NAMESPACE_LABEL, "the Namespace's labels", _LABEL_IN, "`false`"),
)


def precedence_table() -> str:
    """The table as Markdown, as the README shows it."""
    lines = ["| Rank | Signal on | Opts in | Opts out |", "|---|---|---|---|"]
    for rank, row in enumerate(PRECEDENCE, 1):
        lines.append(f"| {rank} | {row.where} | {row.opt_in} | {row.opt_out} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, init=False)
class Signal:
    source: Source
    written: str
    """The keys and values as found, e.g. ``sidecar-injector.io/inject: "a, b"``."""
    templates: tuple[str, ...]

    def __init__(self, source: Source, written: str, templates: tuple[str, ...]) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "written", written)
        object.__setattr__(self, "templates", templates)

    @property
    def opts_out(self) -> bool:
        return not self.templates

    def describe(self) -> str:
        answer = ", ".join(self.templates) if self.templates else "opt out"
        return f"{self.source.value} {self.written} ({answer})"


@dataclass(frozen=True, slots=True, init=False)
class OptInDecision:
    signals: tuple[Signal, ...] = ()
    """Every signal found, highest precedence first; the first one decides."""

    def __init__(self, signals: tuple[Signal, ...] = ()) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "signals", signals)

    @property
    def decided_by(self) -> Signal | None:
        return self.signals[0] if self.signals else None

    @property
    def templates(self) -> tuple[str, ...]:
        return self.signals[0].templates if self.signals else ()

    @property
    def opted_in(self) -> bool:
        return bool(self.templates)

    @property
    def opted_out(self) -> bool:
        return bool(self.signals) and self.signals[0].opts_out

    def disagreements(self) -> tuple[str, ...]:
        if not self.signals:
            return ()
        decided = self.signals[0]
        return tuple(
            f"{decided.describe()} overrides {other.describe()}"
            for other in self.signals[1:]
            if other.templates != decided.templates
        )


def decide(
    obj: JsonValue, kind: str, namespace: NamespaceMetadata | None, policy: InjectionPolicy
) -> OptInDecision:
    root = locate_pod_template(kind)
    pod_template = _walk(obj, root) if root else None
    # The maps as found, not copied: the signals read a few keys and skip what is not a string.
    labels, annotations = _entries(obj, "labels"), _entries(obj, "annotations")
    # Other injectors read pods only: their annotation on a Deployment's own metadata never counted.
    own_pod = labels if root == () else None
    found: list[Signal | None] = [
        _annotation_signal(Source.OBJECT_ANNOTATION, annotations, policy, legacy=True, pod=own_pod),
        _label_signal(Source.OBJECT_LABEL, labels, policy),
    ]
    if pod_template is not None:
        pod_labels = _entries(pod_template, "labels")
        found.append(
            _annotation_signal(
                Source.POD_TEMPLATE_ANNOTATION,
                _entries(pod_template, "annotations"),
                policy,
                legacy=True,
                pod=pod_labels,
            )
        )
        found.append(_label_signal(Source.POD_TEMPLATE_LABEL, pod_labels, policy))
    if namespace is not None and policy.namespace_opt_in and kind in SUPPORTED_KINDS:
        found.append(
            _annotation_signal(Source.NAMESPACE_ANNOTATION, namespace.annotations, policy, legacy=False)
        )
        found.append(_label_signal(Source.NAMESPACE_LABEL, namespace.labels, policy))
    return OptInDecision(tuple([signal for signal in found if signal is not None]))


def requested_names(annotations: Mapping[str, str], policy: InjectionPolicy) -> list[str]:
    """What one metadata's annotations ask for: the ``inject`` list, then legacy annotations."""
    signal = _annotation_signal(Source.OBJECT_ANNOTATION, annotations, policy, legacy=True)
    return list(signal.templates) if signal is not None else []


def _annotation_signal(
    source: Source,
    annotations: Mapping[Any, Any],
    policy: InjectionPolicy,
    *,
    legacy: bool,
    pod: Mapping[Any, Any] | None = None,
) -> Signal | None:
    """``annotations`` (and ``pod``, the labels when these are a pod's annotations, where accepted
    annotations count) as found: only string keys and values count."""
    names: list[str] = []
    written: list[str] = []
    listed = annotations.get(policy.inject_annotation)
    if isinstance(listed, str):
        written.append(f"{policy.inject_annotation}: {listed!r}")
        if listed.strip().lower() not in OPT_OUT_VALUES:
            names.extend(part.strip() for part in listed.split(",") if part.strip())
    if legacy and policy.legacy_annotations:
        for key, value in annotations.items():
            if not (isinstance(key, str) and key.startswith(LEGACY_ANNOTATION_PREFIX)):
                continue
            name = key[len(LEGACY_ANNOTATION_PREFIX) :]
            if name and isinstance(value, str) and value.strip().lower() == "true":
                written.append(f"{key}: {value!r}")
                names.append(name)
    if pod is not None and policy.accepted_annotations:
        strings, pod_strings = _only_strings(annotations), _only_strings(pod)
        for accepted in policy.accepted_annotations:
            request = accepted.read(strings, pod_strings)
            if request is not None:
                written.append(request[0])
                names.extend(request[1])
    if not written:
        return None
    return Signal(source, "; ".join(written), _bounded(names, source, policy.inject_annotation))


def _label_signal(source: Source, labels: Mapping[Any, Any], policy: InjectionPolicy) -> Signal | None:
    value = labels.get(policy.inject_annotation)
    if not isinstance(value, str):
        return None
    name = value.strip()
    templates = () if name.lower() in OPT_OUT_VALUES else (name,)
    return Signal(source, f"{policy.inject_annotation}={value}", templates)


def _bounded(names: list[str], source: Source, key: str) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(names))
    if len(unique) > MAX_TEMPLATES:
        raise InvalidObject(
            f"{source.value} {key}", f"{len(unique)} templates requested; at most {MAX_TEMPLATES} are handled"
        )
    return unique


def annotations_of(obj: object) -> dict[str, str]:
    """String annotations only: anything else is not ours to interpret."""
    return _strings(obj, "annotations")


def labels_of(obj: object) -> dict[str, str]:
    return _strings(obj, "labels")


def annotation_of(obj: object, key: str) -> str | None:
    """One string annotation, read without copying the annotations."""
    value = _entries(obj, "annotations").get(key)
    return value if isinstance(value, str) else None


def _strings(obj: object, field: str) -> dict[str, str]:
    return _only_strings(_entries(obj, field))


def _entries(obj: object, field: str) -> Mapping[Any, Any]:
    """The metadata's map as found (never to be changed), or an empty one."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    entries = metadata.get(field) if isinstance(metadata, dict) else None
    return entries if isinstance(entries, dict) else {}


def _only_strings(entries: Mapping[Any, Any]) -> dict[str, str]:
    return {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, str)}


def _walk(obj: object, tokens: tuple[str, ...]) -> JsonObject | None:
    node = obj
    for token in tokens:
        node = node.get(token) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
