"""Annotation and label maps, checked as the API server's ``ValidateAnnotations``/``ValidateLabels`` do."""

from __future__ import annotations

from typing import Any

from webhook.templates.errors import show
from webhook.templates.findings import FieldPath, Findings, mapping
from webhook.templates.k8s_formats import label_value, qualified_name

TOTAL_ANNOTATION_BYTES = 256 * 1024


def check_annotations(annotations: Any, path: FieldPath, findings: Findings) -> None:
    """Qualified keys (compared in lower case); all keys and values together at most 256 KiB."""
    total = 0
    for key, value in mapping(annotations).items():
        if not isinstance(key, str):
            continue
        findings.extend((*path, key), _key_errors(key, key.lower()))
        total += len(key.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if total > TOTAL_ANNOTATION_BYTES:
        findings.add(path, f"may not be larger than 256 KiB in total (keys and values: {total} bytes)")


def check_labels(labels: Any, path: FieldPath, findings: Findings) -> None:
    """Qualified keys; values of at most 63 characters from a restricted set (or empty)."""
    for key, value in mapping(labels).items():
        if not isinstance(key, str):
            continue
        findings.extend((*path, key), _key_errors(key, key))
        if isinstance(value, str):
            findings.extend(
                (*path, key), [f"value {show(value)} {message}" for message in label_value(value)]
            )


def _key_errors(key: str, checked: str) -> list[str]:
    return [f"key {show(key)} {message}" for message in qualified_name(checked)]
