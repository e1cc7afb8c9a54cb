"""Test helpers: build a TemplateSet from manifest text exactly as the folder source does."""

from __future__ import annotations

from webhook.core import TemplateSet
from webhook.templates import TemplateError
from webhook.templates.parsing import load_manifests, parse_template, template_documents
from webhook.templates.store import TemplateStore

KUBERNETES_VERSION = "1.35"


def template_set(text: str, namespace: str | None = None) -> TemplateSet:
    store = TemplateStore()
    results = {}
    for index, manifest in enumerate(load_manifests(text, "templates.yaml")):
        for document in template_documents(manifest, f"templates.yaml#{index}", namespace):
            try:
                results[f"{index}:{document.key}"] = parse_template(document, KUBERNETES_VERSION)
            except TemplateError as exc:  # a golden case must not carry broken templates
                raise AssertionError(str(exc)) from exc
    store.replace_source("test", results)
    return store.snapshot()
