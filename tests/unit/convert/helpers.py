"""Shared helpers of the import tests: files as dedented text, and the answer's parts by name."""

from __future__ import annotations

import textwrap
from typing import Any

from webhook.convert import ImportResult, ImportWarning, import_configs


def convert(source_format: str, files: dict[str, str], **options: Any) -> ImportResult:
    return import_configs(source_format, {k: textwrap.dedent(v) for k, v in files.items()}, **options)


def template(result: ImportResult, name: str) -> dict[str, Any]:
    [found] = [t for t in result.templates if t.name == name]
    return dict(found.body)


def warnings_about(result: ImportResult, text: str) -> list[ImportWarning]:
    return [w for w in result.warnings if text in w.message]


def pod(annotations: dict[str, str], kind: str = "Pod", labels: dict[str, str] | None = None) -> str:
    """A workload manifest whose pod carries ``annotations`` (and ``labels``)."""
    meta = {"annotations": annotations, **({"labels": labels} if labels else {})}
    spec = {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]}
    import yaml

    if kind == "Pod":
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", **meta}, "spec": spec}
    else:
        body = {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": "app"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": meta, "spec": spec}},
        }
    return yaml.safe_dump(body)
