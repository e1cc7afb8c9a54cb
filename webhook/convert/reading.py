"""Input texts in, sorted documents out: configuration (ConfigMaps and plain files) apart from workloads.

Every byte of the input may be hostile (a configuration copied from a cluster one does not own), so
all YAML goes through the bounded loader: the files through ``webhook.manifests``, the YAML inside
ConfigMap keys through one shared budget for the whole import, so that many small keys full of
aliases cost no more than one large one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.bounded_yaml import FILE_LIMITS, Limits, YamlProblem, expanded_size, load_one
from webhook.convert.items import ConfigProblem
from webhook.convert.model import ConversionError, ImportWarning
from webhook.convert.names import quote
from webhook.core import SUPPORTED_KINDS
from webhook.manifests import ManifestError, load_documents

MIB = 1024 * 1024
# A ConfigMap holds at most 1 MiB; all the YAML inside all keys of one import, at most 8 Mi of
# nodes and characters once aliases are expanded (as much as one whole manifest file may).
KEY_LIMITS = Limits(text_bytes=MIB, expanded=MIB)
EMBEDDED_BUDGET = FILE_LIMITS.expanded


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One YAML document of an input file (a ConfigMap, a workload, or a kindless configuration)."""

    file: str
    index: int
    body: dict[str, Any]

    @property
    def origin(self) -> str:
        metadata = self.body.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        kind = self.body.get("kind")
        if isinstance(kind, str) and isinstance(name, str):
            return f"{self.file}: {kind} {quote(name)}"
        return self.file if self.index == 0 else f"{self.file} (document {self.index + 1})"


class EmbeddedLoader:
    """Loads the YAML held in ConfigMap keys, all of them within one expansion budget.

    A key that is not YAML is a ConfigProblem (that configuration is skipped, or the format decides
    otherwise); spending the whole budget is a ConversionError, whichever key does it. A key is
    measured after it loads, so the budget may be passed by at most one key's worth.
    """

    def __init__(self, budget: int = EMBEDDED_BUDGET) -> None:
        self.remaining = budget

    def load(self, origin: str, text: str) -> Any:
        try:
            loaded = load_one(text, KEY_LIMITS)
        except YamlProblem as exc:
            where = f" (line {exc.line} of the key)" if exc.line else ""
            raise ConfigProblem("", f"{exc.message}{where}") from exc
        if loaded.node is not None:
            self.remaining -= expanded_size(loaded.node, KEY_LIMITS)
        if self.remaining < 0:
            raise ConversionError(
                origin,
                "the YAML inside the ConfigMaps given expands to too much (aliases count at every use)",
            )
        return loaded.value


@dataclass
class Inputs:
    """The documents of every input file, sorted; ``warnings`` for documents nobody reads."""

    configmaps: list[SourceDocument] = field(default_factory=list)
    plain: list[SourceDocument] = field(default_factory=list)
    workloads: list[SourceDocument] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)
    loader: EmbeddedLoader = field(default_factory=EmbeddedLoader)


def read_inputs(files: Mapping[str, str], prepare: Callable[[str, str], str] | None = None) -> Inputs:
    """Sort every document of every file; ``prepare`` may rewrite a file's text before YAML reads it
    (salesforce's Go template actions are not YAML). Raises ConversionError for unreadable YAML."""
    inputs = Inputs()
    for file, text in files.items():
        prepared = prepare(file, text) if prepare else text
        try:
            documents = load_documents(prepared)
        except ManifestError as exc:
            raise ConversionError(file, str(exc)) from exc
        if not documents:
            raise ConversionError(file, "no YAML document in it")
        for index, obj in enumerate(body for document in documents for body in document.objects):
            _sort(inputs, SourceDocument(file, index, obj))
    return inputs


def _sort(inputs: Inputs, document: SourceDocument) -> None:
    kind = document.body.get("kind")
    if kind is None and "apiVersion" not in document.body:
        inputs.plain.append(document)
    elif kind == "ConfigMap":
        inputs.configmaps.append(document)
    elif kind in SUPPORTED_KINDS:
        inputs.workloads.append(document)
    else:
        shown = quote(kind) if kind is not None else "no kind"
        inputs.warnings.append(
            ImportWarning(
                document.origin, f"a {shown} object is neither a configuration nor a workload; ignored"
            )
        )


def configmap_data(document: SourceDocument) -> dict[str, str]:
    """The string keys of a ConfigMap's data (binaryData and non-strings are never configuration)."""
    data = document.body.get("data")
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def configmap_namespace(document: SourceDocument) -> str | None:
    metadata = document.body.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) and namespace else None


def configmap_name(document: SourceDocument) -> str | None:
    metadata = document.body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else None
