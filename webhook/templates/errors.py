"""The one error a template source reports: where the broken template lives and what is wrong."""

from __future__ import annotations


class TemplateError(Exception):
    """A template that cannot be served; its previous good version (if any) stays in service."""

    def __init__(self, source: str, key: str, field: str, message: str) -> None:
        self.source = source
        self.key = key
        self.field = field
        self.message = message
        location = f"{source}, key {key!r}" if key else source
        super().__init__(f"{location}: {field}: {message}" if field else f"{location}: {message}")
