"""How a pod asked tumblr for a configuration, and the template name that answers it now.

``injector.tumblr.com/request: name[:version]`` (the prefix is tumblr's ``--annotation-namespace``),
compared in lower case, ``latest`` when no version is given; a pod marked
``injector.tumblr.com/status: injected`` is skipped. ``name:latest`` is served as the template
``name``, ``name:v1.2`` as ``name-v1-2``.
"""

from __future__ import annotations

from collections.abc import Mapping

from webhook.convert.model import AnnotationRewrite, Translation
from webhook.convert.names import quote, to_label
from webhook.core import InjectionPolicy

DEFAULT_VERSION = "latest"
INJECTED = "injected"
OURS = InjectionPolicy().inject_annotation


def split_name(text: str) -> tuple[str, str] | None:
    """tumblr's ``configNameFields``: ``name[:version]``, an empty version meaning ``latest``."""
    parts = text.split(":")
    if len(parts) == 1 or (len(parts) == 2 and not parts[1]):
        return parts[0], DEFAULT_VERSION
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def full_name(name: str, version: str) -> str:
    return f"{name}:{version}".lower()


def label_for(name: str, version: str) -> str | None:
    return to_label(name if version.lower() == DEFAULT_VERSION else f"{name}-{version}")


class Requests:
    """``injector.tumblr.com/request: name[:version]`` in our terms."""

    def __init__(
        self,
        prefix: str,
        labels: Mapping[str, str],
        shown: Mapping[str, tuple[str, str]],
        failed: set[str],
    ) -> None:
        self.request_key = f"{prefix}/request"
        self.status_key = f"{prefix}/status"
        self.labels = labels
        self.shown = shown
        self.failed = failed

    def generic_rewrites(self) -> list[AnnotationRewrite]:
        rewrites: list[AnnotationRewrite] = []
        for key, label in self.labels.items():
            name, version = self.shown[key]
            values = [name] if version.lower() == DEFAULT_VERSION else []
            values.append(f"{name}:{version}")
            rewrites.extend(AnnotationRewrite(self.request_key, value, OURS, label) for value in values)
        return rewrites

    def translate(self, annotations: Mapping[str, str], labels: Mapping[str, str]) -> Translation:
        requested = annotations.get(self.request_key)
        if requested is None:
            return Translation()
        if annotations.get(self.status_key, "").lower() == INJECTED:
            note = f"carries {self.status_key}: {INJECTED}, so tumblr injected nothing; left as is"
            return Translation(notes=(note,))
        parsed = split_name(requested)
        label = label_for(*parsed) if parsed else None
        if parsed is None or label is None:
            note = (
                f"{self.request_key}: {quote(requested)} names no configuration tumblr could find; left as is"
            )
            return Translation(notes=(note,))
        known = self.labels.get(full_name(*parsed))
        if full_name(*parsed) in self.failed:
            note = (
                f"requests {quote(requested)}, whose configuration was not imported (see above); left as is"
            )
            return Translation(notes=(note,))
        if known is not None:
            return Translation((self.request_key,), (known,))
        note = (
            f"requests {quote(requested)}, which none of the files given defines; rewritten to {label} anyway"
        )
        return Translation((self.request_key,), (label,), (note,))
