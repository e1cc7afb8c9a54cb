"""Why an injection cannot go ahead.

Every error carries a stable ``reason`` token for logs and metrics; nothing branches on message text.

    InjectionError
    ├── TemplateNotFound        a requested template is not loaded (denial only when policy says so)
    ├── InvalidObject           the object is not shaped like its kind (names the field)
    └── TemplateConflict        a template cannot be applied to this object
        ├── PodSecurityConflict an injected template needs a lower Pod Security level than enforced
        └── VolumeNotFound      a mount the injection adds names a volume the final pod lacks
"""

from __future__ import annotations


class InjectionError(Exception):
    """Base of every refusal the engine can return."""

    reason = "injection-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemplateNotFound(InjectionError):
    reason = "template-not-found"

    def __init__(self, names: tuple[str, ...], namespace: str) -> None:
        listed = ", ".join(repr(n) for n in names)
        super().__init__(f"requested sidecar template(s) {listed} not found for namespace {namespace!r}")
        self.names = names


class InvalidObject(InjectionError):
    reason = "invalid-object"

    def __init__(self, field_path: str, problem: str) -> None:
        super().__init__(f"{field_path}: {problem}")
        self.field_path = field_path


class TemplateConflict(InjectionError):
    reason = "template-conflict"


class PodSecurityConflict(TemplateConflict):
    reason = "pod-security"

    def __init__(self, message: str, templates: tuple[str, ...]) -> None:
        super().__init__(message)
        self.templates = templates


class VolumeNotFound(TemplateConflict):
    reason = "volume-not-found"

    def __init__(self, message: str, templates: tuple[str, ...]) -> None:
        super().__init__(message)
        self.templates = templates
