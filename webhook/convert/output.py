"""Imported templates as the ConfigMaps a user applies, each checked by our own template loader.

The YAML is written for people to review before they apply it: the template body as a literal
block under ``data.template`` (as the README's examples are written), and a comment naming where
each template came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from webhook.convert.model import ImportedTemplate, ImportResult
from webhook.convert.names import quote
from webhook.templates import TemplateError
from webhook.templates.parsing import NATIVE_KEY, TEMPLATE_LABEL, TemplateDocument, parse_template


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks (PyYAML falls back to quoting when a block cannot hold it)."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def template_text(template: ImportedTemplate) -> str:
    return yaml.dump(dict(template.body), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def manifest(template: ImportedTemplate) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": template.name}
    if template.namespace is not None:
        metadata["namespace"] = template.namespace
    metadata["labels"] = {TEMPLATE_LABEL: "true"}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {NATIVE_KEY: template_text(template)},
    }


def render(result: ImportResult) -> str:
    """Every template as a YAML stream, ready for ``kubectl apply -f``."""
    documents = []
    for template in result.templates:
        comment = f"# Imported from {result.source_format}: {template.origin}".replace("\n", " ")
        body = yaml.dump(manifest(template), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
        documents.append(f"{comment}\n{body}")
    return "---\n".join(documents)


def problems(template: ImportedTemplate) -> list[str]:
    """What our loader would refuse in the template, one line each (none: it loads)."""
    document = TemplateDocument(
        template.name, template.namespace, f"template {template.name}", NATIVE_KEY, template_text(template)
    )
    try:
        parse_template(document)
    except TemplateError as exc:
        return [f"{p.field}: {p.message}" if p.field else p.message for p in exc.problems]
    return []


def rewrite_lines(result: ImportResult) -> Iterable[str]:
    """The rewrite each opt-in annotation needs, then each workload's own."""
    for rewrite in result.rewrites:
        yield (
            f"rewrite: {rewrite.old_key}: {_json(rewrite.old_value)} -> "
            f"{rewrite.new_key}: {_json(rewrite.new_value)}"
        )
    for workload in result.workloads:
        changes = [f"remove {key}: {_json(value)}" for key, value in workload.removed.items()]
        changes += [f"set {key}: {_json(value)}" for key, value in workload.added.items()]
        yield f"rewrite: {workload.origin} {workload.location}: {'; '.join(changes)}"


def _json(value: str) -> str:
    return quote(value, limit=200)
