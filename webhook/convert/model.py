"""What an import produces: our templates, the annotation rewrites workloads need, and warnings.

Everything here is plain data, so that ``import`` can print it and the later ``--accept-annotations``
and ``templates validate`` work can reuse the same translation without a second copy of it.

ConversionError     the input cannot be imported at all (unreadable, or not the named format)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

FORMATS = ("tumblr", "salesforce", "expedia")


class ConversionError(ValueError):
    """The whole input is unusable: ``origin`` (a file, ConfigMap or key) and a one-line reason."""

    def __init__(self, origin: str, message: str) -> None:
        super().__init__(f"{origin}: {message}" if origin else message)
        self.origin = origin
        self.message = message


@dataclass(frozen=True, slots=True)
class ImportWarning:
    """Something the source says that our templates cannot, and what was done instead."""

    origin: str
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}" if self.origin else self.message


@dataclass(frozen=True, slots=True)
class ImportedTemplate:
    """One native template: ``body`` is what goes under the ConfigMap key ``template``.

    ``namespace`` is kept from a namespaced source (Expedia's ConfigMaps serve their own namespace
    only); None means the injector's namespace, from where a template serves every namespace.
    """

    name: str
    body: Mapping[str, Any]
    origin: str
    source_name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class AnnotationRewrite:
    """One opt-in annotation of the old injector and ours that asks for the same injection."""

    old_key: str
    old_value: str
    new_key: str
    new_value: str


@dataclass(frozen=True, slots=True)
class Translation:
    """What one pod's annotations asked the old injector for, in our terms.

    ``removed``: the old opt-in annotation keys; ``names``: our templates, in the order the old
    injector applied them; ``notes``: what this pod relied on that the templates do not carry.
    """

    removed: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class RequestTranslator(Protocol):
    """A source format's opt-in annotations, translated to ours."""

    def generic_rewrites(self) -> list[AnnotationRewrite]:
        """The rewrite for each way of asking for each imported template."""
        ...

    def translate(self, annotations: Mapping[str, str], labels: Mapping[str, str]) -> Translation:
        """What a pod with these annotations and labels got from the old injector."""
        ...


@dataclass(frozen=True, slots=True)
class WorkloadRewrite:
    """One workload given with the configuration, and how its annotations change.

    ``location`` is the metadata path that holds the pod's annotations (``metadata`` for a Pod,
    ``spec.template.metadata`` for a Deployment, ...); ``rewritten`` is the whole object after it.
    """

    kind: str
    name: str
    namespace: str | None
    origin: str
    location: str
    removed: Mapping[str, str]
    added: Mapping[str, str]
    rewritten: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ImportResult:
    source_format: str
    templates: tuple[ImportedTemplate, ...] = ()
    rewrites: tuple[AnnotationRewrite, ...] = ()
    workloads: tuple[WorkloadRewrite, ...] = ()
    warnings: tuple[ImportWarning, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Conversion:
    """One format's answer before validation and workload rewriting."""

    templates: tuple[ImportedTemplate, ...]
    warnings: tuple[ImportWarning, ...]
    translator: RequestTranslator
