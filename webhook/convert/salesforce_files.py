"""salesforce's two files among the inputs: ``sidecarconfig.yaml`` and ``mutationconfig.yaml``.

Each is a plain file (its ``--sidecar-config-file`` and ``--mutation-config-file``) or a key of a
ConfigMap (its Helm chart keeps both in one). The injector reads one of each; ``import`` needs both,
``--accept-annotations salesforce=PATH`` only the mutation config, which says how pods ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webhook.convert.items import ConfigProblem
from webhook.convert.model import ConversionError, ImportWarning
from webhook.convert.names import quote
from webhook.convert.reading import Inputs, configmap_data
from webhook.convert.salesforce_items import SidecarConfig

SIDECAR_KEY = "sidecarconfig.yaml"
MUTATION_KEY = "mutationconfig.yaml"
SIDECAR_FIELDS = frozenset({"containers", "initContainers", "volumes", "volumeMounts"})


@dataclass(frozen=True, slots=True)
class Document:
    origin: str
    body: Any


def configuration(inputs: Inputs) -> tuple[SidecarConfig, Document]:
    """The one sidecar config and the one mutation config of the input (the injector takes one each)."""
    sidecar_docs, mutation_docs = _documents(inputs, (SIDECAR_KEY, MUTATION_KEY))
    _at_most_one("sidecar config", sidecar_docs)
    _at_most_one("mutation config", mutation_docs)
    if not sidecar_docs or not mutation_docs:
        missing = SIDECAR_KEY if not sidecar_docs else MUTATION_KEY
        raise ConversionError(
            "", f"no {missing} among the files given: salesforce's injector needs both files"
        )
    sidecar = sidecar_docs[0]
    return SidecarConfig.read(sidecar.origin, sidecar.body), mutation_docs[0]


def mutation_config(inputs: Inputs) -> Document:
    """The one mutation config of the input; a sidecar config beside it (the chart's ConfigMap) is not
    read, since which pods ask for what is the mutation config's alone."""
    _, mutation_docs = _documents(inputs, (MUTATION_KEY,))
    _at_most_one("mutation config", mutation_docs)
    if not mutation_docs:
        raise ConversionError(
            "", f"no mutation config in it: neither a mutationConfigs list nor a {MUTATION_KEY} key"
        )
    return mutation_docs[0]


def mutation_list(document: Document) -> list[dict[str, Any]]:
    body = document.body
    items = body.get("mutationConfigs") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConversionError(document.origin, "mutationConfigs: expected a list of mutation configs")
    return items


def _documents(inputs: Inputs, keys: tuple[str, ...]) -> tuple[list[Document], list[Document]]:
    """The sidecar and mutation configs found, the ConfigMap keys among ``keys`` loaded."""
    sidecar_docs: list[Document] = []
    mutation_docs: list[Document] = []
    for document in inputs.plain:
        if "mutationConfigs" in document.body:
            mutation_docs.append(Document(document.origin, document.body))
        elif SIDECAR_FIELDS & set(document.body):
            sidecar_docs.append(Document(document.origin, document.body))
        else:
            raise ConversionError(
                document.origin, "neither a salesforce sidecarconfig.yaml nor a mutationconfig.yaml"
            )
    for document in inputs.configmaps:
        data = configmap_data(document)
        for key, found in ((SIDECAR_KEY, sidecar_docs), (MUTATION_KEY, mutation_docs)):
            if key in data and key in keys:
                origin = f"{document.origin} key {quote(key)}"
                try:
                    found.append(Document(origin, inputs.loader.load(origin, data[key])))
                except ConfigProblem as exc:
                    raise ConversionError(origin, str(exc)) from exc
        if not {SIDECAR_KEY, MUTATION_KEY} & set(data):
            inputs.warnings.append(
                ImportWarning(document.origin, f"has neither {SIDECAR_KEY} nor {MUTATION_KEY}; ignored")
            )
    return sidecar_docs, mutation_docs


def _at_most_one(what: str, found: list[Document]) -> None:
    if len(found) > 1:
        listed = ", ".join(d.origin for d in found)
        raise ConversionError("", f"the injector reads one {what}, and {len(found)} were given: {listed}")
